import GreenloopCore
import Testing

@Suite("GREENLOOP_BACKEND parsing")
struct BackendParsingTests {
    @Test(
        "every accepted spelling parses",
        arguments: [
            ("libev", Backend.libev),
            ("libevent", Backend.libevent),
            ("LIBEV", Backend.libev),
            ("  libevent\n", Backend.libevent),
            ("libev:epoll", try! Backend(kind: .libev, method: .epoll)),
            ("libev:poll", try! Backend(kind: .libev, method: .poll)),
            ("libev:select", try! Backend(kind: .libev, method: .select)),
            ("libev:linuxaio", try! Backend(kind: .libev, method: .linuxaio)),
            ("libev:iouring", try! Backend(kind: .libev, method: .iouring)),
            ("libevent:epoll", try! Backend(kind: .libevent, method: .epoll)),
            ("libevent:poll", try! Backend(kind: .libevent, method: .poll)),
            ("Libevent:Select", try! Backend(kind: .libevent, method: .select)),
        ])
    func accepted(text: String, expected: Backend) throws {
        #expect(try Backend(parsing: text) == expected)
    }

    @Test("acceptedSpellings lists exactly what parses")
    func spellingsRoundTrip() throws {
        #expect(Backend.acceptedSpellings.count == 10)
        for spelling in Backend.acceptedSpellings {
            #expect(try Backend(parsing: spelling).description == spelling)
        }
    }

    @Test(
        "bad values are rejected with a message naming the variable, the value and the accepted values",
        arguments: [
            ("libuv", "unknown backend"),
            ("libev:", "missing method after ':'"),
            ("libevent:iouring", "libevent has no method 'iouring'"),
            ("libevent:linuxaio", "libevent has no method 'linuxaio'"),
            ("libev:kqueue", "libev has no method 'kqueue'"),
            (":epoll", "unknown backend"),
            ("libev epoll", "unknown backend"),
        ])
    func rejected(text: String, reason: String) {
        let environment = [Backend.environmentVariable: text]
        #expect {
            _ = try Backend.fromEnvironment(environment)
        } throws: { error in
            guard let error = error as? BackendSelectionError else { return false }
            let message = error.description
            return error.value == text && error.source == .environment && error.reason == reason
                && message.hasPrefix("invalid GREENLOOP_BACKEND=\"\(text)\": \(reason); accepted values are libev, libev:epoll")
                && message.contains("libevent:select")
        }
    }

    @Test("unset or empty means no choice; precedence is code, then environment, then libev")
    func precedence() throws {
        #expect(try Backend.fromEnvironment([:]) == nil)
        #expect(try Backend.fromEnvironment([Backend.environmentVariable: ""]) == nil)
        #expect(try Backend.fromEnvironment([Backend.environmentVariable: "  "]) == nil)
        #expect(try Backend.resolve(environment: [:]) == .default)
        #expect(Backend.default == .libev)
        let fromEnvironment = [Backend.environmentVariable: "libevent:poll"]
        #expect(try Backend.resolve(environment: fromEnvironment) == Backend(kind: .libevent, method: .poll))
        #expect(try Backend.resolve(explicit: .libev, environment: fromEnvironment) == .libev)
        // An explicit choice does not even read a bad variable.
        #expect(try Backend.resolve(explicit: .libevent, environment: [Backend.environmentVariable: "bad"]) == .libevent)
    }

    @Test("a method the backend does not offer is refused in code too")
    func codeChoice() {
        #expect(throws: BackendSelectionError.self) { try Backend(kind: .libevent, method: .iouring) }
        #expect(throws: BackendSelectionError.self) { try Backend(parsing: "libevent:iouring") }
    }
}

@Suite("Value types")
struct ValueTypeTests {
    @Test("signals name themselves and know which can be watched")
    func signals() {
        #expect(Signal.interrupt.description == "SIGINT (2)")
        #expect(Signal.realTime(1).description.hasPrefix("signal "))
        #expect(Signal.limit > 31)
    }

    @Test("loop instants saturate and measure")
    func instants() {
        let a = LoopInstant(nanoseconds: 1_000)
        #expect(a.advanced(byNanoseconds: .max).nanoseconds == .max)
        #expect(a.duration(to: LoopInstant(nanoseconds: 3_000)) == .nanoseconds(2_000))
        #expect(LoopInstant(nanoseconds: 3_000).duration(to: a) == .zero)
    }

    @Test("errors explain themselves")
    func errorMessages() {
        #expect(
            LoopError.wrongThread(operation: "timer.start()", loopThread: 10, callingThread: 11).description
                == "timer.start() was called on thread 11, but the loop belongs to thread 10, which made it; "
                + "only AsyncWatcher.Sender.send() may be called from another thread")
        #expect(LoopError.invalidFileDescriptor(-1, nil).description == "invalid file descriptor -1: negative")
        #expect(LoopError.invalidPriority(7).description == "invalid priority 7: priorities run from -2 to 2")
    }
}
