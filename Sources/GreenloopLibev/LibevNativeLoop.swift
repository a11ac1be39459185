import CLibev
#if canImport(Glibc)
import Glibc
#endif
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
        if method == .epoll {
            let probe = UnsafeMutablePointer<ev_io>.allocate(capacity: 1)
            probeDescriptor = greenloop_ev_install_probe(loop, probe)
            self.probe = probe
        }
    }

    deinit {
        close()
        probe?.deallocate()
    }

    /// The probe that finds libev's epoll set (see `greenloop_ev_install_probe`): its eventfd, -1
    /// without one (other methods, or the eventfd could not be made), and its `ev_io`, allocated
    /// so that it never moves (made last in `init`, so that an `init` that throws leaks none).
    private var probeDescriptor: CInt = -1
    private var probe: UnsafeMutablePointer<ev_io>?
    /// ``backendDescriptor`` once found; forgotten by a fork (libev makes a new set at the next
    /// iteration, which registers the probe again; until then the old set is still the loop's).
    @exclusivity(unchecked) private var knownBackendDescriptor: CInt?

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

    /// libev's epoll set: an io watcher on it would make libev's next `epoll_ctl` fail inside its
    /// backend, where libev aborts instead of reporting. libev has no call that tells it: found
    /// through the probe, once (and once after each fork).
    var backendDescriptor: CInt {
        if let knownBackendDescriptor { return knownBackendDescriptor }
        let found = isClosed || probeDescriptor < 0 ? -1 : greenloop_epoll_set_holding(probeDescriptor)
        knownBackendDescriptor = found
        return found
    }

    func updateTime() { greenloop_ev_now_update(loop) }

    func reinitializeAfterFork() throws(LoopError) {
        // libev remakes its epoll set (and re-arms every fd) at the start of the next iteration.
        greenloop_ev_loop_fork(loop)
        knownBackendDescriptor = nil
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        greenloop_ev_loop_destroy(loop)
        if probeDescriptor >= 0 {
            _ = Glibc.close(probeDescriptor)
            probeDescriptor = -1
        }
    }
}
