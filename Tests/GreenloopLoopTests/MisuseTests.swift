import Greenloop
@_spi(Backend) import GreenloopCore
import GreenloopLibev
import GreenloopLibevent
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("bad input gets a typed error, and the loop keeps running", .timeLimit(.minutes(1)))
struct MisuseTests {
    /// After each refusal the loop must still run a timer.
    private func expectStillRuns(_ loop: EventLoop) throws {
        var fired = false
        let timer = try loop.makeTimer(after: .milliseconds(1)) { fired = true }
        try timer.start()
        try loop.run()
        #expect(fired)
    }

    @Test("negative and closed descriptors", arguments: allBackends)
    func badDescriptors(backend: Backend) throws {
        try withLoop(backend) { loop in
            #expect(throws: LoopError.invalidFileDescriptor(-1, nil)) {
                try loop.makeIOWatcher(FileDescriptor(rawValue: -1), .read) { _ in }
            }
            // Not a just-closed descriptor: tests run in parallel, and the kernel hands the lowest
            // free number to the next open. Nothing here opens anywhere near this one.
            let notOpen = FileDescriptor(rawValue: 900_000)
            #expect(throws: LoopError.invalidFileDescriptor(notOpen.rawValue, .badFileDescriptor)) {
                try loop.makeIOWatcher(notOpen, .read) { _ in }
            }
            let live = try Pipe()
            let watcher = try loop.makeIOWatcher(live.readEnd, .read) { _ in }
            #expect(throws: LoopError.invalidFileDescriptor(-5, nil)) {
                try watcher.set(FileDescriptor(rawValue: -5), .read)
            }
            #expect(watcher.fileDescriptor == live.readEnd)
            try expectStillRuns(loop)
        }
    }

    @Test("a descriptor closed after its watcher was made, or the loop's own epoll set, is refused at start", arguments: allBackends)
    func staleDescriptors(backend: Backend) throws {
        try withLoop(backend) { loop in
            // A number of our own, high above what parallel tests open, so that nothing reuses it
            // between the close and the start (one per backend: both cases run at once).
            var limit = rlimit()
            getrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit)
            let live = try Pipe()
            let high = fcntl(
                live.readEnd.rawValue, F_DUPFD_CLOEXEC, CInt(clamping: limit.rlim_cur) - (backend == .libev ? 8 : 16))
            try #require(high >= 0)
            let watcher = try loop.makeIOWatcher(FileDescriptor(rawValue: high), .read) { _ in }
            close(high)
            #expect(throws: LoopError.invalidFileDescriptor(high, .badFileDescriptor)) { try watcher.start() }
            #expect(!watcher.isActive)
            try expectStillRuns(loop)

            // The loop's own epoll set: libev aborted in its backend; now both refuse at start.
            let epoll = loop.native.backendDescriptor
            try #require(epoll >= 0)
            var target = [CChar](repeating: 0, count: 64)
            let length = readlink("/proc/self/fd/\(epoll)", &target, target.count - 1)
            #expect(String(decoding: target[..<max(length, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self) == "anon_inode:[eventpoll]")
            let onEpoll = try loop.makeIOWatcher(FileDescriptor(rawValue: epoll), .read) { _ in }
            #expect(throws: LoopError.invalidFileDescriptor(epoll, .invalidArgument)) { try onEpoll.start() }
            #expect(!onEpoll.isActive)
            try expectStillRuns(loop)

            // The same watcher on a good descriptor again works.
            try watcher.set(live.readEnd, .read)
            try watcher.start()
            #expect(watcher.isActive)
        }
    }

    @Test("signals that cannot be watched", arguments: allBackends)
    func badSignals(backend: Backend) throws {
        try withLoop(backend) { loop in
            for number: CInt in [0, -1, SIGKILL, SIGSTOP, Signal.limit, 4096] {
                #expect(throws: LoopError.self) { try loop.makeSignalWatcher(Signal(rawValue: number)) {} }
            }
            #expect(throws: LoopError.invalidSignal(SIGKILL, reason: "SIGKILL and SIGSTOP cannot be caught")) {
                try loop.makeSignalWatcher(.kill) {}
            }
            // Faults: a watcher would turn a crash into a thread that faults forever, unreported.
            for fault: CInt in [SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP] {
                #expect {
                    try loop.makeSignalWatcher(Signal(rawValue: fault)) {}
                } throws: { error in
                    guard case LoopError.invalidSignal(fault, let reason) = error else { return false }
                    return reason.contains("fault") && reason.contains("SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGTRAP")
                }
            }
            try expectStillRuns(loop)
        }
    }

    @Test("priorities, durations and process ids out of range", arguments: allBackends)
    func badValues(backend: Backend) throws {
        try withLoop(backend) { loop in
            let timer = try loop.makeTimer(after: .seconds(1)) {}
            #expect(throws: LoopError.invalidPriority(3)) { try timer.setPriority(3) }
            #expect(throws: LoopError.invalidPriority(-3)) { try timer.setPriority(-3) }
            try timer.start()
            #expect(throws: LoopError.watcherActive(operation: "setPriority(_:)", watcher: "timer")) {
                try timer.setPriority(1)
            }
            try timer.stop()
            #expect(throws: LoopError.invalidDuration(.milliseconds(-1))) {
                try loop.makeTimer(after: .milliseconds(-1)) {}
            }
            #expect(throws: LoopError.invalidDuration(.seconds(-2))) { try timer.setRepeat(.seconds(-2)) }
            #expect(throws: LoopError.invalidProcessID(0, nil)) { try loop.makeChildWatcher(ProcessID(rawValue: 0)) { _ in } }
            #expect(throws: LoopError.invalidProcessID(-4, nil)) { try loop.makeChildWatcher(ProcessID(rawValue: -4)) { _ in } }
            #expect(throws: LoopError.invalidProcessID(Int32.max, .noSuchProcess)) {
                try loop.makeChildWatcher(ProcessID(rawValue: .max)) { _ in }
            }
            try expectStillRuns(loop)
        }
    }

    @Test("calls from another thread are refused with both thread ids; send() is allowed", arguments: allBackends)
    func wrongThread(backend: Backend) throws {
        try withLoop(backend) { loop in
            let timer = try loop.makeTimer(after: .milliseconds(1)) {}
            let async = try loop.makeAsyncWatcher { try loop.stop() }
            try async.start()
            nonisolated(unsafe) let sharedLoop = loop
            nonisolated(unsafe) let sharedTimer = timer
            let sender = async.sender
            let messages = RecordingLogHandler.Records()
            onNewThread {
                let attempts: [() throws -> Void] = [
                    { try sharedTimer.start() },
                    { try sharedTimer.stop() },
                    { try sharedLoop.run() },
                    { try sharedLoop.stop() },
                    { try sharedLoop.close() },
                    { _ = try sharedLoop.makeIdleWatcher {} },
                    { try sharedLoop.runOnNextIteration {} },
                ]
                for attempt in attempts {
                    do {
                        try attempt()
                        messages.append("accepted")
                    } catch let error as LoopError {
                        messages.append(error.description)
                    } catch {
                        messages.append("untyped \(error)")
                    }
                }
                sender.send()
            }
            let recorded = messages.messages
            #expect(recorded.count == 7)
            #expect(recorded.allSatisfy { $0.contains("but the loop belongs to thread") })
            #expect(recorded.first?.hasPrefix("timer.start() was called on thread ") == true)
            #expect(!timer.isActive)
            #expect(!loop.isClosed)
            try loop.run()
            try async.stop()
            try expectStillRuns(loop)
        }
    }

    @Test("makeLoop refuses a bad GREENLOOP_BACKEND and a method the machine lacks")
    func badBackend() throws {
        #expect(throws: LoopError.self) { try makeLoop(Backend(kind: .libev, method: .linuxaio)) }
        do {
            _ = try makeLoop(Backend(kind: .libev, method: .linuxaio))
        } catch let error as LoopError {
            #expect(error.description.hasPrefix("backend libev:linuxaio is unavailable: "))
        }
        for method in Libev.supportedMethods where method != .linuxaio && method != .iouring {
            let loop = try makeLoop(Backend(kind: .libev, method: method))
            #expect(loop.method == method)
        }
        for method in Libevent.supportedMethods {
            let loop = try makeLoop(Backend(kind: .libevent, method: method))
            #expect(loop.method == method)
        }
    }
}
