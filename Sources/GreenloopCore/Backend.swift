/// The C event library a loop runs on.
public enum BackendKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// libev 4 (the default).
    case libev
    /// libevent 2.1.
    case libevent

    /// The I/O methods this backend can be asked for by name.
    ///
    /// Whether the running kernel provides one is known only when a loop is made with it.
    public var methods: [IOMethod] {
        switch self {
        case .libev: return [.epoll, .poll, .select, .linuxaio, .iouring]
        case .libevent: return [.epoll, .poll, .select]
        }
    }

    /// The name as `GREENLOOP_BACKEND` spells it.
    public var description: String { rawValue }
}

/// The kernel interface a backend uses to wait for I/O.
public enum IOMethod: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// epoll(7): O(1) per ready descriptor; the default of both backends on Linux.
    case epoll
    /// poll(2): O(n) in the descriptors watched, per wait.
    case poll
    /// select(2): O(n) per wait, and descriptors below FD_SETSIZE (1024) only.
    case select
    /// Linux AIO's poll interface (libev only; Linux ≥ 4.19).
    case linuxaio
    /// io_uring (libev only; Linux ≥ 5.1, and only where the kernel lets the process use it).
    case iouring

    /// The name as `GREENLOOP_BACKEND` spells it.
    public var description: String { rawValue }
}

/// Which backend, and optionally which I/O method, a loop should run on.
///
/// A choice is either given in code or read from the environment variable
/// ``Backend/environmentVariable`` (`GREENLOOP_BACKEND`). The accepted spellings are
/// `libev`, `libevent`, and either of them followed by `:` and a method that backend offers
/// (`libev:poll`, `libevent:select`, …). Names are case-insensitive and surrounding white space is
/// ignored; anything else is an error, never a silent fallback to the default.
public struct Backend: Sendable, Hashable, CustomStringConvertible {
    /// The library.
    public var kind: BackendKind
    /// The I/O method, or `nil` for the library's own best choice on this machine.
    public var method: IOMethod?

    /// The variable read by ``fromEnvironment(_:)``: `GREENLOOP_BACKEND`.
    public static let environmentVariable = "GREENLOOP_BACKEND"

    /// The backend used when neither code nor the environment names one: libev, best method.
    public static let `default` = Backend(validated: .libev)

    /// libev with its best method.
    public static let libev = Backend(validated: .libev)
    /// libevent with its best method.
    public static let libevent = Backend(validated: .libevent)

    /// A choice of `kind`, and of `method` when it is not `nil`.
    ///
    /// - Throws: ``BackendSelectionError`` when `kind` does not offer `method`.
    public init(kind: BackendKind, method: IOMethod? = nil) throws(BackendSelectionError) {
        if let method, !kind.methods.contains(method) {
            throw BackendSelectionError(
                value: "\(kind):\(method)", source: .code,
                reason: "\(kind) has no method \(method)")
        }
        self.kind = kind
        self.method = method
    }

    private init(validated kind: BackendKind) {
        self.kind = kind
        self.method = nil
    }

    /// Parses a spelling such as `libev`, `libevent:poll` (see the type's documentation).
    ///
    /// - Parameter source: where the text came from, named in the error message.
    /// - Throws: ``BackendSelectionError`` naming the value and every accepted spelling.
    public init(parsing text: String, source: BackendSelectionError.Source = .code)
        throws(BackendSelectionError)
    {
        let trimmed = text.trimmingWhitespace().lowercased()
        let parts = trimmed.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let kind = BackendKind(rawValue: String(parts[0])) else {
            throw BackendSelectionError(value: text, source: source, reason: "unknown backend")
        }
        guard parts.count == 2 else {
            self.init(validated: kind)
            return
        }
        guard let method = IOMethod(rawValue: String(parts[1])), kind.methods.contains(method) else {
            throw BackendSelectionError(
                value: text, source: source,
                reason: parts[1].isEmpty ? "missing method after ':'" : "\(kind) has no method '\(parts[1])'")
        }
        self.init(validated: kind)
        self.method = method
    }

    /// The backend named by `GREENLOOP_BACKEND` in `environment`, or `nil` when it is unset or
    /// empty.
    ///
    /// - Parameter environment: the variables to read; the process's own by default.
    /// - Throws: ``BackendSelectionError`` for a value that is not an accepted spelling.
    public static func fromEnvironment(_ environment: [String: String]? = nil)
        throws(BackendSelectionError) -> Backend?
    {
        let value: String?
        if let environment {
            value = environment[environmentVariable]
        } else {
            value = ProcessEnvironment.value(of: environmentVariable)
        }
        guard let value, !value.trimmingWhitespace().isEmpty else { return nil }
        return try Backend(parsing: value, source: .environment)
    }

    /// The backend to use: `explicit` when given, else the environment's, else ``default``.
    ///
    /// - Throws: ``BackendSelectionError`` when the environment is consulted and holds a bad value.
    public static func resolve(explicit: Backend? = nil, environment: [String: String]? = nil)
        throws(BackendSelectionError) -> Backend
    {
        if let explicit { return explicit }
        return try fromEnvironment(environment) ?? .default
    }

    /// Every spelling ``init(parsing:source:)`` accepts, in lower case.
    public static var acceptedSpellings: [String] {
        BackendKind.allCases.flatMap { kind in [kind.rawValue] + kind.methods.map { "\(kind):\($0)" } }
    }

    /// `libev`, or `libev:epoll` when a method is set.
    public var description: String {
        method.map { "\(kind):\($0)" } ?? kind.rawValue
    }
}

/// A backend named in code or in `GREENLOOP_BACKEND` that Greenloop does not accept.
public struct BackendSelectionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Where the rejected value came from.
    public enum Source: Sendable, Hashable {
        /// The `GREENLOOP_BACKEND` environment variable.
        case environment
        /// A value passed in code.
        case code
    }

    /// The rejected text, as given.
    public var value: String
    /// Where it came from.
    public var source: Source
    /// What is wrong with it.
    public var reason: String

    /// Names the variable (when the value came from it), the value, the reason and every accepted
    /// spelling.
    public var description: String {
        let origin = source == .environment ? "\(Backend.environmentVariable)=" : "backend "
        return "invalid \(origin)\"\(value)\": \(reason); accepted values are "
            + Backend.acceptedSpellings.joined(separator: ", ")
            + (source == .environment ? " (or unset for the default, libev)" : "")
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
