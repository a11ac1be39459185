@testable import Greenlets
import GreenloopBackends
import GreenloopCore
import Testing

/// A readiness wait is woken from the hub's ready queue, an iteration after the io callback that
/// saw the readiness: these tests end the wait in between, from a check watcher (which runs after
/// the io callbacks of its iteration), the way a timeout that fires in the same iteration would.
@Suite("readiness waits and their scheduled wake-ups", .timeLimit(.minutes(1)))
struct ReadinessWaiterTests {
    struct Stop: Error {}

    @Test("a wait ended before its wake-up ran leaves that wake-up to the next wait", arguments: allBackends)
    func wakeUpKeptForNextWait(backend: Backend) throws {
        try withHub(backend) { hub in
            let pipe = try Pipe()
            let readiness = try ReadinessWaiter(fd: pipe.readEnd.rawValue, .read)
            defer { readiness.close() }
            var outcomes: [String] = []
            let reader = try spawn {
                do {
                    _ = try readiness.wait(timeout: nil)
                    outcomes.append("woken")
                } catch is Stop {
                    outcomes.append("stopped")
                }
                // The wake-up runs now, with nobody waiting; then the readiness is consumed.
                try sleep(.zero)
                outcomes.append(try pipe.readAvailable())
                // The wake-up was kept: this wait returns at once (the caller's next read tells
                // whether the readiness lasted).
                outcomes.append(try readiness.wait(timeout: .milliseconds(200)) ? "ready" : "timed out")
                // Nothing is kept twice.
                outcomes.append(try readiness.wait(timeout: .milliseconds(20)) ? "ready" : "timed out")
            }
            try sleep(.zero)
            var interrupted = false
            let check = try hub.loop.makeCheckWatcher {
                guard !interrupted, readiness.hasScheduledWake, readiness.hasWaitingGreenlet else { return }
                interrupted = true
                readiness.fail(Stop())
            }
            try check.start()
            try pipe.write("x")
            #expect(try reader.join(timeout: .seconds(5)))
            #expect(interrupted)
            #expect(outcomes == ["stopped", "x", "ready", "timed out"])
            #expect(!readiness.hasScheduledWake)
        }
    }

    @Test("a waiter dropped before its wake-up ran lives until that wake-up has run", arguments: allBackends)
    func droppedWaiterOutlivesItsWakeUp(backend: Backend) throws {
        try withHub(backend) { hub in
            let pipe = try Pipe()
            weak var observed: ReadinessWaiter?
            var stopped = false
            let reader = try spawn {
                let readiness = try ReadinessWaiter(fd: pipe.readEnd.rawValue, .read)
                observed = readiness
                defer { readiness.close() }
                do {
                    _ = try readiness.wait(timeout: nil)
                } catch is Stop {
                    stopped = true
                }
            }
            try sleep(.zero)
            #expect(observed != nil)
            var wakeUpWasPending = false
            let check = try hub.loop.makeCheckWatcher {
                guard !wakeUpWasPending, let readiness = observed, readiness.hasScheduledWake else { return }
                wakeUpWasPending = true
                // The reader ends, closing the waiter and dropping it, while its wake-up is queued.
                readiness.fail(Stop())
            }
            try check.start()
            try pipe.write("x")
            #expect(try reader.join(timeout: .seconds(5)))
            #expect(wakeUpWasPending && stopped)
            // The wake-up ran before the join's own (queued after it), and let the waiter go.
            #expect(observed == nil)
        }
    }
}
