// A tour of the loop: a repeating timer writes into a pipe, an io watcher reads what arrives,
// and after five ticks the program sends itself SIGUSR1, which a signal watcher receives on the
// loop's thread and uses to wind everything down. Runs on the backend GREENLOOP_BACKEND names.
//
//     swift run greenloop-loop-tour
//     GREENLOOP_BACKEND=libevent:poll swift run greenloop-loop-tour

import Greenloop
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

func tour() throws {
    let loop = try makeLoop()
    print("greenloop loop tour on \(loop.backend) (method \(loop.method))")

    let pipe = try FileDescriptor.pipe()
    defer {
        try? pipe.readEnd.close()
        try? pipe.writeEnd.close()
    }
    let started = LoopInstant.monotonicNow()
    func elapsed() -> String {
        let ms = Double(LoopInstant.monotonicNow().nanoseconds - started.nanoseconds) / 1e6
        let text = String(Int(ms.rounded()))
        return String(repeating: " ", count: max(0, 5 - text.count)) + text + " ms"
    }

    var ticks = 0
    let reader = try loop.makeIOWatcher(pipe.readEnd, .read) { _ in
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = try buffer.withUnsafeMutableBytes { try pipe.readEnd.read(into: $0) }
        print("\(elapsed())  io      read \(count) bytes: \(String(decoding: buffer[..<count], as: UTF8.self))")
    }
    let ticker = try loop.makeTimer(after: .milliseconds(100), repeat: .milliseconds(100)) {
        ticks += 1
        _ = try pipe.writeEnd.writeAll("tick \(ticks)".utf8)
        print("\(elapsed())  timer   tick \(ticks)")
        if ticks == 5 {
            print("\(elapsed())  timer   sending SIGUSR1 to this process")
            kill(getpid(), SIGUSR1)
        }
    }
    // Not referenced: it does not keep the loop going by itself, so once it has stopped the
    // timer and the reader, run() returns. (A callback that captured its own watcher strongly
    // would make a reference cycle.)
    let signalWatcher = try loop.makeSignalWatcher(.user1) {
        print("\(elapsed())  signal  received \(Signal.user1) on the loop's thread; stopping")
        try ticker.stop()
        try reader.stop()
    }
    try signalWatcher.setRef(false)
    // A safety net: the tour never runs longer than five seconds.
    let deadline = try loop.makeTimer(after: .seconds(5)) { try loop.stop() }
    try deadline.setRef(false)

    try reader.start()
    try ticker.start()
    try signalWatcher.start()
    try deadline.start()
    try loop.run()
    print("\(elapsed())  done after \(loop.iteration) iterations, \(ticks) ticks")
    try loop.close()
}

do {
    try tour()
} catch {
    print("error: \(error)")
    exit(1)
}
