import CLibev
@_spi(Backend) import GreenloopCore

/// The `struct ev_loop *` behind a libev ``GreenloopCore/EventLoop``.
final class LibevNativeLoop: NativeLoop {
    // Unchecked exclusivity: the loop's thread only, and read by every watcher's start and stop.
    /// `struct ev_loop *`; valid until ``close()``.
    @exclusivity(unchecked) private(set) var loop: OpaquePointer
    let method: IOMethod
    @exclusivity(unchecked) private(set) var isClosed = false

    var kind: BackendKind { .libev }

    init(method requested: IOMethod?) throws(LoopError) {
        let backend = (try? Backend(kind: .libev, method: requested)) ?? .libev
        var error: UnsafePointer<CChar>?
        guard greenloop_ev_load(&error) == 0 else {
            throw .backendUnavailable(backend, reason: error.map { String(cString: $0) } ?? "libev.so.4 failed to load")
        }
        var flags = greenloop_evflag_noenv
        if let requested {
            let flag = LibevNativeLoop.flag(for: requested)
            guard greenloop_ev_supported_backends() & flag != 0 else {
                throw .backendUnavailable(
                    backend,
                    reason: "this libev does not support \(requested); it supports "
                        + Libev.supportedMethods.map(\.rawValue).joined(separator: ", "))
            }
            flags |= flag
        }
        guard let loop = greenloop_ev_loop_new(flags) else {
            throw .backendUnavailable(
                backend, reason: "ev_loop_new failed (the kernel refused \(requested?.rawValue ?? "every method"))")
        }
        let chosen = greenloop_ev_backend(loop)
        guard let method = BackendKind.libev.methods.first(where: { LibevNativeLoop.flag(for: $0) == chosen }),
            requested == nil || requested == method
        else {
            greenloop_ev_loop_destroy(loop)
            throw .backendUnavailable(backend, reason: "libev chose an unknown method (\(chosen))")
        }
        self.loop = loop
        self.method = method
    }

    deinit { close() }

    static func flag(for method: IOMethod) -> UInt32 {
        switch method {
        case .epoll: return greenloop_evbackend_epoll
        case .poll: return greenloop_evbackend_poll
        case .select: return greenloop_evbackend_select
        case .linuxaio: return greenloop_evbackend_linuxaio
        case .iouring: return greenloop_evbackend_iouring
        }
    }

    func makeIO(for watcher: IOWatcher) -> any NativeIO { LibevIO.make(owner: self, watcher: watcher) }

    func makeTimer(for watcher: TimerWatcher) -> any NativeTimer { LibevTimer.make(owner: self, watcher: watcher) }

    func poll(blocking: Bool) {
        _ = greenloop_ev_run(loop, blocking ? greenloop_evrun_once : greenloop_evrun_nowait)
    }

    var pendingCount: Int { isClosed ? 0 : Int(greenloop_ev_pending_count(loop)) }

    func updateTime() { greenloop_ev_now_update(loop) }

    func reinitializeAfterFork() throws(LoopError) {
        // libev remakes its epoll set (and re-arms every fd) at the start of the next iteration.
        greenloop_ev_loop_fork(loop)
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        greenloop_ev_loop_destroy(loop)
    }
}
