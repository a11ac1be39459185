import CGreenloopSystem
import GreenloopCore
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A child process with cooperative pipes: reading its output or waiting for it blocks only the
/// calling greenlet.
///
/// The program is found on `PATH` (`posix_spawnp`). It starts with no blocked signals and default
/// signal dispositions, whatever the spawning thread had. Its exit is seen through the hub loop's
/// child watcher (a pidfd; see `ChildWatcher`), which reaps exactly this child.
///
/// ```swift
/// let result = try Subprocess.run(["sort"], input: Array("b\na\n".utf8), timeout: .seconds(5))
/// // result.status == .exited(code: 0), result.output == Array("a\nb\n".utf8)
/// ```
public final class Subprocess {
    /// The child's process id.
    public let processID: ProcessID
    /// The child's standard input, when piped.
    public let standardInput: PipeEnd?
    /// The child's standard output, when piped.
    public let standardOutput: PipeEnd?
    /// The child's standard error, when piped.
    public let standardError: PipeEnd?
    private let exit = AsyncResult<TerminationStatus>()
    private var watcher: ChildWatcher?

    /// Starts `arguments[0]` with `arguments`.
    ///
    /// - Parameters:
    ///   - environment: the child's environment; the parent's when `nil`.
    ///   - pipeInput, pipeOutput, pipeError: give the child a pipe for that stream (else it
    ///     inherits the parent's).
    /// - Throws: ``SubprocessError/spawnFailed(_:_:)`` (no such program…).
    public init(
        _ arguments: [String], environment: [String: String]? = nil, pipeInput: Bool = true,
        pipeOutput: Bool = true, pipeError: Bool = true
    ) throws {
        require(!arguments.isEmpty, "a subprocess needs at least the program's name")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [CInt?] = [nil, nil, nil]
        var childEnds: [CInt] = []
        defer { childEnds.forEach { _ = Glibc.close($0) } }
        for (stream, wanted) in [pipeInput, pipeOutput, pipeError].enumerated() where wanted {
            var ends: [CInt] = [0, 0]
            guard greenloop_pipe(&ends) == 0 else {
                parentEnds.compactMap { $0 }.forEach { _ = Glibc.close($0) }
                throw SubprocessError.systemCall("pipe2", Errno(rawValue: errno))
            }
            // Index 0 reads, 1 writes: the child reads its stdin and writes its output.
            let (child, parent) = stream == 0 ? (ends[0], ends[1]) : (ends[1], ends[0])
            posix_spawn_file_actions_adddup2(&actions, child, CInt(stream))
            childEnds.append(child)
            parentEnds[stream] = parent
        }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: CInt = 0
        let rc: CInt
        if let environment {
            var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { envp.forEach { free($0) } }
            rc = greenloop_spawn(&pid, arguments[0], &actions, &argv, &envp)
        } else {
            rc = greenloop_spawn(&pid, arguments[0], &actions, &argv, environ)
        }
        guard rc == 0 else {
            parentEnds.compactMap { $0 }.forEach { _ = Glibc.close($0) }
            throw SubprocessError.spawnFailed(arguments[0], Errno(rawValue: rc))
        }
        processID = ProcessID(rawValue: pid)
        standardInput = parentEnds[0].map(PipeEnd.init(adopting:))
        standardOutput = parentEnds[1].map(PipeEnd.init(adopting:))
        standardError = parentEnds[2].map(PipeEnd.init(adopting:))
        let exit = self.exit
        watcher = try Hub.current().loop.makeChildWatcher(processID) { exit.set($0) }
        try watcher?.start()
    }

    /// How the child ended, once it has.
    public var status: TerminationStatus? {
        guard case .success(let status)? = exit.result else { return nil }
        return status
    }

    /// Sends `signal` to the child (nothing once it has been reaped).
    public func send(_ signal: Signal) throws {
        guard status == nil else { return }
        guard Glibc.kill(processID.rawValue, signal.rawValue) == 0 else {
            throw SubprocessError.systemCall("kill(\(processID), \(signal))", Errno(rawValue: errno))
        }
    }

    /// Waits for the child to end, at most `timeout`.
    ///
    /// - Throws: ``SubprocessError/timedOut(_:after:)`` after killing the child with SIGKILL and
    ///   reaping it, when this call's timeout passes first. A ``Timeout`` of an enclosing
    ///   ``withTimeout(_:_:)`` passes through unchanged, and leaves the child running.
    @discardableResult
    public func wait(timeout: Duration? = nil) throws -> TerminationStatus {
        guard let timeout else { return try exit.get() }
        if let status = try exit.value(within: timeout) { return status }
        try send(.kill)
        _ = try exit.get()
        throw SubprocessError.timedOut("wait(\(processID))", after: timeout)
    }

    /// What ``run(_:input:environment:timeout:)`` collects.
    public struct RunResult: Sendable, Hashable {
        /// How the child ended.
        public var status: TerminationStatus
        /// Everything it wrote to standard output.
        public var output: [UInt8]
        /// Everything it wrote to standard error.
        public var error: [UInt8]
    }

    /// Runs a program to its end: writes `input` to it, collects its output and error (all three
    /// at once, so that no pipe fills up and stalls it), and waits for it, at most `timeout`.
    ///
    /// - Throws: ``SubprocessError/timedOut(_:after:)`` (the child is killed), what starting it
    ///   throws.
    public static func run(
        _ arguments: [String], input: [UInt8] = [], environment: [String: String]? = nil, timeout: Duration? = nil
    ) throws -> RunResult {
        let process = try Subprocess(arguments, environment: environment)
        let writer = try spawn {
            defer { process.standardInput?.close() }
            do {
                try process.standardInput?.writeAll(input)
            } catch SubprocessError.systemCall(_, .brokenPipe) {
                // The child ended without reading all of its input: not an error of ours.
            }
        }
        let output = try spawn { try process.standardOutput?.readAll() ?? [] }
        let errors = try spawn { try process.standardError?.readAll() ?? [] }
        let status: TerminationStatus
        do {
            status = try process.wait(timeout: timeout)
        } catch {
            try killAll([output, errors])
            try writer.kill()
            throw error
        }
        try writer.join()
        return RunResult(status: status, output: try output.value(), error: try errors.value())
    }
}
