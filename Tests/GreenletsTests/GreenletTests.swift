import Greenlets
import GreenloopCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Counts deinitialisations, to see what a greenlet's frames released.
final class Probe {
    static let deinits = Mutex<Int>(0)
    let counter: Counter
    init(_ counter: Counter) { self.counter = counter }
    deinit { counter.value += 1 }

    final class Counter { var value = 0 }
}

struct Boom: Error, Equatable {}

@Suite("greenlets", .timeLimit(.minutes(1)))
struct GreenletTests {
    @Test("values travel both ways through switches")
    func echo() throws {
        let main = Greenlet.current
        #expect(main.isMain)
        #expect(main === Greenlet.main)
        let echo = try Greenlet { first in
            var value = first
            while true {
                value = try main.switchInto((value as! Int) * 2)
            }
        }
        #expect(!echo.isStarted)
        #expect(try echo.switchInto(1) as? Int == 2)
        #expect(echo.isStarted && !echo.isDead)
        #expect(try echo.switchInto(21) as? Int == 42)
        #expect(Greenlet.current === main)
    }

    @Test("inside a greenlet, current is that greenlet and its parent is its maker")
    func currentAndParent() throws {
        var seen: [ObjectIdentifier] = []
        var inner: Greenlet?
        let outer = try Greenlet { _ in
            seen.append(ObjectIdentifier(Greenlet.current))
            inner = try Greenlet { _ in
                seen.append(ObjectIdentifier(Greenlet.current))
                return "inner done"
            }
            #expect(inner?.parent === Greenlet.current)
            return try inner!.switchInto()
        }
        #expect(try outer.switchInto() as? String == "inner done")
        #expect(seen == [ObjectIdentifier(outer), ObjectIdentifier(inner!)])
        #expect(outer.parent === Greenlet.main)
        #expect(outer.isDead && inner!.isDead)
        #expect(try outer.outcome?.get() as? String == "inner done")
    }

    @Test("resume() hands control without a value: it starts, resumes, drops values and still throws")
    func resumeHandsControl() throws {
        let main = Greenlet.current
        var steps: [String] = []
        let partner = try Greenlet { first in
            steps.append("started with \(first == nil ? "nothing" : "a value")")
            try main.switchInto("dropped")
            steps.append("resumed")
            try main.resume()
            throw Boom()
        }
        try partner.resume()
        #expect(steps == ["started with nothing"])
        try partner.resume()
        #expect(steps == ["started with nothing", "resumed"])
        #expect(throws: Boom.self) { try partner.resume() }
        #expect(partner.isDead)
        // A dead greenlet's switch goes to its parent: here, the main greenlet itself.
        try partner.resume()
        #expect(Greenlet.current === main)
    }

    @Test("a switch that carries nothing receives nothing, whatever the switches before it carried")
    func messagesDoNotLinger() throws {
        let main = Greenlet.current
        var received: [String] = []
        func note(_ value: Any?) { received.append(value.map { "\($0)" } ?? "nil") }
        let partner = try Greenlet { first in
            note(first)
            note(try main.switchInto(10))
            try main.resume()
            do { try main.switchInto("x") } catch { received.append("caught") }
            note(try main.switchInto())
            return 7
        }
        #expect(try partner.switchInto(1) as? Int == 10)
        #expect(try partner.switchInto() == nil)
        #expect(try partner.switchInto() as? String == "x")
        #expect(try partner.throwInto(Boom()) == nil)
        #expect(try partner.switchInto(5) as? Int == 7)
        #expect(received == ["1", "nil", "caught", "5"])
        // A body that returns nothing hands its parent nothing.
        let quiet = try Greenlet { _ in nil }
        #expect(try quiet.switchInto("ignored") == nil)
    }

    @Test("a greenlet is not started, then running or suspended, then dead")
    func states() throws {
        let main = Greenlet.current
        var seenInside = ""
        let partner = try Greenlet { _ in
            seenInside = Greenlet.current.description
            try main.resume()
            return nil
        }
        #expect(partner.description.hasSuffix("(not started)"))
        try partner.resume()
        #expect(seenInside.hasSuffix("(running)"))
        #expect(partner.description.hasSuffix("(suspended)"))
        #expect(partner.isStarted && !partner.isDead)
        try partner.resume()
        #expect(partner.description.hasSuffix("(dead)"))
        #expect(partner.isDead)
    }

    @Test("a body's error is thrown in its parent, and kept as the outcome")
    func errorToParent() throws {
        let failing = try Greenlet { _ in throw Boom() }
        #expect(throws: Boom.self) { try failing.switchInto() }
        #expect(failing.isDead)
        #expect(throws: Boom.self) { try failing.outcome?.get() }
    }

    @Test("switching to a dead greenlet goes to its parent")
    func switchToDead() throws {
        let parent = try Greenlet { first in
            // The child ends at once; its value arrives here.
            let child = try Greenlet { _ in "child" }
            let fromChild = try child.switchInto()
            // Switching to the dead child again lands in ourselves, the parent: the value comes
            // straight back.
            let again = try child.switchInto("again")
            return [first as! String, fromChild as! String, again as! String]
        }
        #expect(try parent.switchInto("first") as? [String] == ["first", "child", "again"])
        // Now the parent is dead too: a switch to it goes to main, i.e. returns at once.
        #expect(try parent.switchInto("to main") as? String == "to main")
    }

    @Test("a child that ends starts a parent that never ran; the parent's ending goes on up the chain")
    func endingStartsUnstartedParent() throws {
        // greenlet: the child's value is the parent's first argument.
        let parent = try Greenlet { first in "parent got \(first as! Int)" }
        let child = try Greenlet(parent: parent) { _ in 42 }
        #expect(try child.switchInto() as? String == "parent got 42")
        #expect(child.isDead && parent.isDead)

        // Two levels, and an error: it ends each unstarted ancestor without running it.
        var grandparentRan = false
        let grandparent = try Greenlet { _ in
            grandparentRan = true
            return nil
        }
        let middle = try Greenlet(parent: grandparent) { _ in "never" }
        let failing = try Greenlet(parent: middle) { _ in throw Boom() }
        #expect(throws: Boom.self) { try failing.switchInto() }
        #expect(middle.isDead && grandparent.isDead && !grandparentRan)
        #expect(throws: Boom.self) { try middle.outcome?.get() }
    }

    @Test("throwing into an unstarted greenlet kills it without running it")
    func throwIntoUnstarted() throws {
        var ran = false
        let never = try Greenlet { _ in
            ran = true
            return nil
        }
        #expect(throws: Boom.self) { try never.throwInto(Boom()) }
        #expect(never.isDead && !ran)
        let quiet = try Greenlet { _ in
            ran = true
            return nil
        }
        #expect(try quiet.throwInto() == nil)
        #expect(quiet.isDead && !ran)
        #expect(throws: GreenletExit.self) { try quiet.outcome?.get() }
    }

    @Test("throwing into a suspended greenlet raises where it waits; it may catch and go on")
    func throwIntoSuspended() throws {
        let main = Greenlet.current
        var caught: [String] = []
        let worker = try Greenlet { _ in
            do {
                try main.switchInto("waiting")
            } catch {
                caught.append("\(error)")
            }
            return "recovered"
        }
        #expect(try worker.switchInto() as? String == "waiting")
        #expect(try worker.throwInto(Boom()) as? String == "recovered")
        #expect(caught == ["Boom()"])
    }

    @Test("a suspended greenlet that is dropped unwinds: every object on its stack is released")
    func droppedSuspendedUnwinds() throws {
        let counter = Probe.Counter()
        var cleanups = 0
        var worker: Greenlet? = try Greenlet { _ in
            let a = Probe(counter)
            defer { cleanups += 1 }
            try nested(counter) {
                try Greenlet.main.switchInto("suspended deep inside")
            }
            _ = a
            Issue.record("resumed normally instead of unwinding")
            return nil
        }
        #expect(try worker?.switchInto() as? String == "suspended deep inside")
        #expect(counter.value == 0)
        worker = nil
        #expect(counter.value == 3)
        #expect(cleanups == 1)
    }

    @Test("a greenlet may drop the last reference to itself while it runs")
    func dropsItselfWhileRunning() throws {
        var holder: Greenlet?
        holder = try Greenlet { _ in
            holder = nil
            return "still fine"
        }
        #expect(try holder!.switchInto() as? String == "still fine")
        #expect(holder == nil)
    }

    @Test("a greenlet resumed by resume() may drop every other reference to itself while it runs")
    func dropsItselfWhileResumed() throws {
        // resume() counts no reference: the caller's keeps the greenlet alive while it runs.
        let counter = Probe.Counter()
        var holder: Greenlet?
        weak var watched: Greenlet?
        holder = try Greenlet { _ in
            let probe = Probe(counter)
            try Greenlet.main.resume()
            holder = nil
            // Still alive and running: its state is intact, and it can switch away.
            #expect(Greenlet.current === watched)
            #expect(watched?.isDead == false)
            try Greenlet.main.switchInto("dropped")
            _ = probe
            Issue.record("resumed normally instead of unwinding")
            return nil
        }
        watched = holder
        try holder!.switchInto()
        try holder!.resume()
        // The caller's reference went with the call: suspended and dropped, it unwound.
        #expect(holder == nil)
        #expect(watched == nil)
        #expect(counter.value == 1)

        // One that ends while resumed so goes too, once its caller lets it go.
        var ending: Greenlet? = try Greenlet { _ in
            try Greenlet.main.resume()
            return "ended"
        }
        weak let endingWatched = ending
        try ending!.switchInto()
        try ending!.resume()
        #expect(ending?.isDead == true)
        #expect(ending?.outcome.flatMap { try? $0.get() } as? String == "ended")
        ending = nil
        #expect(endingWatched == nil)
    }

    @Test("parents can be changed, but not into a cycle or across threads")
    func parents() throws {
        let a = try Greenlet { _ in nil }
        let b = try Greenlet(parent: a) { _ in "from b" }
        #expect(b.parent === a)
        #expect(throws: GreenletError.invalidParent("the parent chain would be a cycle")) { try a.setParent(b) }
        #expect(throws: GreenletError.invalidParent("a main greenlet has no parent")) { try Greenlet.main.setParent(a) }
        try b.setParent(Greenlet.main)
        #expect(try b.switchInto() as? String == "from b")
    }

    @Test("greenlets belong to their thread: use from another thread is refused")
    func wrongThread() throws {
        let local = try Greenlet { _ in "ran" }
        nonisolated(unsafe) let shared = local
        let message = Mutex<String>("")
        onNewThread {
            do {
                _ = try shared.switchInto()
            } catch let error as GreenletError {
                message.withLock { $0 = error.description }
            } catch {}
        }
        #expect(message.withLock { $0 }.hasPrefix("switchInto(_:) was called on thread "))
        #expect(!local.isStarted)
        #expect(try local.switchInto() as? String == "ran")
    }

    @Test("stacks are reused: 20,000 greenlets one after another, then 2,000 alive at once")
    func manyGreenlets() throws {
        var total = 0
        for index in 0..<20_000 {
            let greenlet = try Greenlet { value in (value as! Int) + 1 }
            total += try greenlet.switchInto(index) as! Int
        }
        #expect(total == (1...20_000).reduce(0, +))
        let main = Greenlet.current
        var alive: [Greenlet] = []
        for _ in 0..<2_000 {
            let greenlet = try Greenlet { _ in
                try main.switchInto()
                return nil
            }
            try greenlet.switchInto()
            alive.append(greenlet)
        }
        #expect(alive.allSatisfy { $0.isStarted && !$0.isDead })
        alive.removeAll()  // each is unwound as it goes
    }

    @Test("a stack that is too small is refused")
    func tooSmall() {
        #expect(throws: GreenletError.stackTooSmall(4096)) { try Greenlet(stackSize: 4096) { _ in nil } }
    }

    @Test("stack overflow hits the guard page and crashes, never corrupts memory")
    func overflowCrashes() async {
        // SIGSEGV from the guard page; under AddressSanitizer, its own stack-overflow report and
        // exit status 1. Either way the process stops, loudly.
        await #expect(processExitsWith: .failure) {
            let deep = try Greenlet(stackSize: 64 * 1024) { _ in recurse(1) }
            _ = try deep.switchInto()
        }
    }
}

/// Two more frames holding probes, with the switch at the bottom.
private func nested(_ counter: Probe.Counter, _ innermost: () throws -> Void) throws {
    let b = Probe(counter)
    try deeper(counter, innermost)
    _ = b
}

private func deeper(_ counter: Probe.Counter, _ innermost: () throws -> Void) throws {
    let c = Probe(counter)
    try innermost()
    _ = c
}

@inline(never)
private func recurse(_ depth: Int) -> Int {
    var frame = [UInt8](repeating: UInt8(truncatingIfNeeded: depth), count: 512)
    return withUnsafeMutableBytes(of: &frame) { _ in depth } + recurse(depth + 1) + Int(frame[0])
}

@Suite("errors while a dropped greenlet unwinds", .timeLimit(.minutes(1)))
struct UnwindingErrorTests {
    struct CleanupFailed: Error {}

    @Test("an error thrown while a dropped greenlet unwinds is reported exactly once", arguments: allBackends)
    func reportedOnce(backend: Backend) throws {
        try withHub(backend) { hub in
            var reports: [String] = []
            hub.errorHandler = { error, place in reports.append("\(error) in \(place)") }
            do {
                let greenlet = try Greenlet { _ in
                    do {
                        _ = try Greenlet.current.parent!.switchInto()
                    } catch is GreenletExit {
                        throw CleanupFailed()
                    }
                    return nil
                }
                _ = try greenlet.switchInto()  // suspended; dropped at the end of this scope
            }
            #expect(reports.count == 1)
            #expect(reports.first?.contains("CleanupFailed") == true)
            #expect(reports.first?.contains("unwound because it was dropped") == true)
        }
    }

    @Test("without a hub, it goes to standard error")
    func reportedOnStandardError() async {
        await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            do {
                let greenlet = try Greenlet { _ in
                    do { _ = try Greenlet.current.parent!.switchInto() } catch is GreenletExit { throw CleanupFailed() }
                    return nil
                }
                _ = try greenlet.switchInto()
            }
        }.map { result in
            let text = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(text.contains("CleanupFailed") && text.contains("unwound because it was dropped"))
        }
    }
}
