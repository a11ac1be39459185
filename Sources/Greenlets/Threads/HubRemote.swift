import GreenloopCore
import Synchronization

/// The way into a hub from other threads (gevent's `loop.run_callback_threadsafe`): hands the hub
/// work that then runs on the hub's own thread, in a greenlet of its own.
///
/// A hub, its greenlets and their primitives belong to one thread, and every other operation on
/// them checks that (see ``GreenletError/wrongThread(operation:greenletThread:callingThread:)``).
/// To kill a greenlet, set an ``Event`` or put into a ``Queue`` from another thread, send the work
/// through the hub's remote; wrap what the work needs in a ``HubBound``:
///
/// ```swift
/// let remote = try Hub.current().remote            // on the hub's thread
/// let worker = HubBound(try spawn { try serve() })
/// // on any thread:
/// try remote.spawn { try worker.value.kill() }
/// ```
///
/// Cost per call: a lock, an append and an async watcher's send (one `write` when the loop was not
/// already woken). Work sent before the hub's next iteration runs in the order it was sent.
/// The remote does not keep the hub's loop running: work sent while nothing else does may wait
/// for the next iteration that something else brings (as in gevent).
public struct HubRemote: Sendable {
    let mailbox: HubMailbox

    /// Runs `body` on the hub's thread, in a new greenlet, which may block like any greenlet
    /// (join, kill and wait). An error that escapes it goes to the hub's `errorHandler`. Never
    /// blocks the caller. Thread-safe.
    ///
    /// - Throws: ``HubError/destroyed`` when the hub has been destroyed; the work does not run.
    public func spawn(_ body: @escaping @Sendable () throws -> Void) throws(HubError) {
        try mailbox.post(body)
    }
}

/// The work other threads sent to one hub, until the hub takes it.
final class HubMailbox: Sendable {
    private let state = Mutex<(isOpen: Bool, work: [@Sendable () throws -> Void])>((true, []))
    private let sender: AsyncWatcher.Sender

    init(sender: AsyncWatcher.Sender) { self.sender = sender }

    func post(_ body: @escaping @Sendable () throws -> Void) throws(HubError) {
        let posted = state.withLock { state in
            guard state.isOpen else { return false }
            state.work.append(body)
            return true
        }
        guard posted else { throw .destroyed }
        sender.send()
    }

    /// On the hub's thread: the work sent so far, in order.
    func take() -> [@Sendable () throws -> Void] {
        state.withLock { state in
            defer { state.work = [] }
            return state.work
        }
    }

    /// On the hub's thread, as it goes: later posts throw, and work not taken is dropped.
    func close() {
        state.withLock { state in
            state.isOpen = false
            state.work = []
        }
    }
}

/// A value that belongs to one hub's thread, carried through other threads (SwiftNIO's
/// `NIOLoopBound`): any thread may hold and pass it, only the owning thread may read it. It lets
/// a ``HubRemote/spawn(_:)`` closure, which must be `Sendable`, take a greenlet or a primitive
/// along.
///
/// Keep another reference on the owning thread while a bound value travels: if the last one
/// went on another thread, the object's deinitialiser would run there.
public struct HubBound<Value>: @unchecked Sendable {
    // @unchecked: `stored` is read only on the thread that made this (checked by `value`).
    private let stored: Value
    private let affinity: ThreadAffinity

    /// Binds `value` to the calling thread.
    public init(_ value: Value) {
        stored = value
        affinity = ThreadAffinity()
    }

    /// The value; on the owning thread only (traps elsewhere, with both threads named).
    public var value: Value {
        affinity.require("HubBound.value")
        return stored
    }
}
