import Greenlets
import GreenloopCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Smuggles non-Sendable objects to another thread, which is exactly the misuse these tests make.
private final class Smuggled<Value>: @unchecked Sendable {
    // @unchecked: the point of the tests; the library must refuse what the other thread does.
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// What a foreign thread's call gave: nil for a normal return, else the error's description.
private func outcome(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}

@Suite("the threading contract", .timeLimit(.minutes(1)))
struct ThreadContractTests {
    @Test("every throwing operation called from a foreign thread is refused and changes nothing", arguments: allBackends)
    func foreignCallsAreRefused(backend: Backend) throws {
        try withHub(backend) { _ in
            let sleeper = try spawn { try sleep(.seconds(30)) }
            let event = Event()
            let result = AsyncResult<Int>()
            let semaphore = Semaphore(value: 1)
            let lock = Lock()
            let queue = Queue<Int>()
            try queue.tryPut(1)
            let channel = Channel<Int>()
            let group = Group()
            let pool = Pool(size: 2)
            try group.spawn { try sleep(.seconds(30)) }
            let server = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0)) { _ in }
            let greenlet = try Greenlet { _ in nil }
            try sleep(.milliseconds(1))  // the sleeper starts

            let objects = Smuggled((sleeper, event, result, semaphore, lock, queue, channel, group, pool, server, greenlet))
            let refusals = Mutex<[String: String?]>([:])
            onNewThread {
                let (sleeper, event, result, semaphore, lock, queue, channel, group, pool, server, greenlet) = objects.value
                let calls: [(String, () throws -> Void)] = [
                    ("kill", { try sleeper.kill() }),
                    ("kill(block: false)", { try sleeper.kill(block: false) }),
                    ("join", { _ = try sleeper.join(timeout: .milliseconds(1)) }),
                    ("value", { _ = try sleeper.value() }),
                    ("Event.wait", { _ = try event.wait(timeout: .milliseconds(1)) }),
                    ("AsyncResult.get", { _ = try result.get(timeout: .milliseconds(1)) }),
                    ("Semaphore.acquire", { _ = try semaphore.acquire(timeout: .zero) }),
                    ("Semaphore.release", { try semaphore.release() }),
                    ("Lock.acquire", { _ = try lock.acquire(timeout: .zero) }),
                    ("Lock.release", { try lock.release() }),
                    ("Queue.get", { _ = try queue.get(timeout: .zero) }),
                    ("Queue.tryGet", { _ = try queue.tryGet() }),
                    ("Queue.put", { _ = try queue.put(2, timeout: .zero) }),
                    ("Queue.tryPut", { try queue.tryPut(2) }),
                    ("Channel.send", { _ = try channel.send(1, timeout: .zero) }),
                    ("Channel.receive", { _ = try channel.receive(timeout: .zero) }),
                    ("Group.spawn", { try group.spawn {} }),
                    ("Group.join", { _ = try group.join(timeout: .zero) }),
                    ("Group.killAll", { try group.killAll() }),
                    ("Pool.spawn", { try pool.spawn {} }),
                    ("StreamServer.start", { try server.start() }),
                    ("StreamServer.stop", { try server.stop() }),
                    ("StreamServer.serveForever", { try server.serveForever() }),
                    ("Greenlet.switchInto", { _ = try greenlet.switchInto() }),
                    ("Greenlet.throwInto", { _ = try greenlet.throwInto(GreenletExit()) }),
                    ("Hub.remote", { _ = try Hub.current().remote; throw HubError.wrongThread }),
                ]
                var seen: [String: String?] = [:]
                for (name, call) in calls { seen[name] = outcome(call) }
                refusals.withLock { $0 = seen }
            }
            let seen = refusals.withLock { $0 }
            #expect(seen.count == 26)
            for (name, description) in seen.sorted(by: { $0.key < $1.key }) where name != "Hub.remote" {
                let text = description ?? "returned normally"
                #expect(text.contains("belongs to thread"), "\(name): \(text)")
            }
            // Nothing changed on the owning thread.
            #expect(!sleeper.isReady)
            #expect(!event.isSet && !result.isReady)
            #expect(semaphore.value == 1 && !lock.isLocked)
            #expect(queue.count == 1)
            #expect(group.count == 1 && pool.count == 0)
            #expect(!server.isServing)
            #expect(!greenlet.isStarted)
            try sleep(.milliseconds(5))  // a foreign kill would have been scheduled: it must not run
            #expect(!sleeper.isReady)
            try sleeper.kill()
            try group.killAll()
        }
    }

    @Test("Hub.remote reaches greenlets and primitives from other threads, safely, many times", arguments: allBackends)
    func remoteWork(backend: Backend) throws {
        try withHub(backend) { hub in
            let remote = try hub.remote
            for round in 0..<20 {
                let sleeper = try spawn { try sleep(.seconds(30)) }
                let event = Event()
                let queue = Queue<Int>()
                let bound = Smuggled((HubBound(sleeper), HubBound(event), HubBound(queue)))
                // Keeps the loop running while the other threads work: the remote does not.
                let keepAlive = try spawn { try sleep(.seconds(10)) }
                ThreadGroup(count: 2) { index in
                    let (sleeper, event, queue) = bound.value
                    try? remote.spawn {
                        if index == 0 {
                            try sleeper.value.kill(block: false)
                            event.value.set()
                        }
                        try queue.value.put(index)
                    }
                }.join()
                #expect(try event.wait(timeout: .seconds(10)), "round \(round)")
                #expect(try sleeper.join(timeout: .seconds(10)))
                #expect(sleeper.error is GreenletExit)
                let items = [try queue.get(timeout: .seconds(10)), try queue.get(timeout: .seconds(10))]
                #expect(Set(items.compactMap { $0 }) == [0, 1])
                try keepAlive.kill()
            }
        }
    }

    @Test("work sent to a destroyed hub is refused", arguments: allBackends)
    func remoteAfterDestroy(backend: Backend) throws {
        let remote = try withHub(backend) { hub in try hub.remote }
        #expect(throws: HubError.destroyed) { try remote.spawn {} }
    }

    @Test("operations that cannot throw trap from a foreign thread, naming both threads")
    func foreignCallsThatTrap() async {
        let cases: [String] = ["Event.set", "Event.clear", "AsyncResult.set", "Socket.close", "HubBound.value", "link"]
        for name in cases {
            await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
                [name = name as String] in
                let hub = try Hub.current()
                let event = Event()
                let result = AsyncResult<Int>()
                let socket = try Socket(.ipv4)
                let bound = HubBound(1)
                let greenlet = try spawn {}
                let objects = Smuggled((event, result, socket, greenlet))
                onNewThread {
                    let (event, result, socket, greenlet) = objects.value
                    switch name {
                    case "Event.set": event.set()
                    case "Event.clear": event.clear()
                    case "AsyncResult.set": result.set(1)
                    case "Socket.close": socket.close()
                    case "HubBound.value": _ = bound.value
                    default: greenlet.link { _ in }
                    }
                }
                _ = hub
            }.map { result in
                let text = String(decoding: result.standardErrorContent, as: UTF8.self)
                #expect(text.contains("belongs to thread") && text.contains("Hub.remote"), "\(name): \(text)")
            }
        }
    }
}
