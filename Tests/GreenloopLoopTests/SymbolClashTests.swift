import CGreenloopSystem
import CLibevent
import Greenloop
import GreenloopLibev
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Debian's libev.so.4 exports libevent-1.4 names (`event_add`, `event_base_new`, …). Greenloop
/// never links libev, so those names cannot shadow libevent's, whatever the link order. This suite
/// proves it in a process whose libev loop is live.
@Suite("libev and libevent in one process", .timeLimit(.minutes(1)))
struct SymbolClashTests {
    final class Fired {
        var timer = false
        var io = false
    }

    @Test("with a live libev loop, libevent is really libevent: its method is epoll and its events fire")
    func libeventStaysLibevent() throws {
        let evLoop = try makeLoop(.libev)
        defer { try? evLoop.close() }
        var ticks = 0
        let ticker = try evLoop.makeTimer(after: .zero, repeat: .milliseconds(1)) { ticks += 1 }
        try ticker.start()
        #expect(try evLoop.run(until: { ticks >= 2 }))
        #expect(Libev.version?.hasPrefix("4.") == true)

        // libev's names are not in the global scope, and libevent's are libevent's.
        #expect(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "ev_loop_new") == nil)
        #expect(libraryDefining("event_add")?.contains("libevent") == true)
        #expect(libraryDefining("event_base_new")?.contains("libevent") == true)

        let base = try #require(event_base_new())
        defer { event_base_free(base) }
        #expect(String(cString: event_base_get_method(base)) == "epoll")

        let fired = Fired()
        let context = Unmanaged.passUnretained(fired).toOpaque()
        let newTimer = event_new(base, -1, 0, markTimerFired, context)
        let timer = try #require(newTimer)
        defer { event_free(timer) }
        var tv = timeval(tv_sec: 0, tv_usec: 1000)
        #expect(event_add(timer, &tv) == 0)

        let pipe = try Pipe()
        let newIO = event_new(base, pipe.readEnd.rawValue, Int16(EV_READ), markIOFired, context)
        let io = try #require(newIO)
        defer { event_free(io) }
        #expect(event_add(io, nil) == 0)
        try pipe.write("x")

        for _ in 0..<1000 where !(fired.timer && fired.io) {
            event_base_loop(base, EVLOOP_ONCE)
        }
        #expect(fired.timer)
        #expect(fired.io)
        // The libev loop is still live and well.
        let before = ticks
        #expect(try evLoop.run(until: { ticks > before }))
        withExtendedLifetime(fired) {}
    }

    /// The file name of the shared object that the global scope resolves `symbol` to.
    private func libraryDefining(_ symbol: String) -> String? {
        greenloop_library_defining(symbol).map { String(cString: $0) }
    }
}

private func markTimerFired(_ fd: CInt, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<SymbolClashTests.Fired>.fromOpaque(context!).takeUnretainedValue().timer = true
}

private func markIOFired(_ fd: CInt, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<SymbolClashTests.Fired>.fromOpaque(context!).takeUnretainedValue().io = true
}
