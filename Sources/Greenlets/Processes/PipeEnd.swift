import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// One end of a pipe whose reads and writes wait through the hub (a child process's stdin,
/// stdout or stderr).
///
/// Closed when its last reference goes, or by ``close()``.
public final class PipeEnd {
    /// The descriptor; -1 once closed.
    public private(set) var fileDescriptor: CInt
    /// How long any one read or write may wait; `nil` waits as long as it takes.
    public var timeout: Duration?

    /// Adopts `fd`, which is made non-blocking.
    init(adopting fd: CInt) {
        fileDescriptor = fd
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit { close() }

    /// Reads what is available, at most `maxBytes`, waiting for at least one byte.
    ///
    /// - Returns: the bytes; empty at end of file.
    public func read(maxBytes: Int = 65536) throws -> [UInt8] {
        let fd = try open("read")
        return try [UInt8](unsafeUninitializedCapacity: maxBytes) { buffer, count in
            count = try io("read", fd, readable: true) { Glibc.read(fd, buffer.baseAddress, maxBytes) }
        }
    }

    /// Reads until end of file.
    public func readAll() throws -> [UInt8] {
        var all: [UInt8] = []
        while true {
            let bytes = try read()
            if bytes.isEmpty { return all }
            all += bytes
        }
    }

    /// Writes all of `bytes`, waiting as often as needed.
    public func writeAll(_ bytes: [UInt8]) throws {
        let fd = try open("write")
        var rest = bytes[...]
        while !rest.isEmpty {
            let written = try io("write", fd, readable: false) {
                rest.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            }
            rest = rest.dropFirst(written)
        }
    }

    /// Closes the end now (the reader at the other end then sees end of file). Calling it again
    /// does nothing.
    public func close() {
        guard fileDescriptor >= 0 else { return }
        Glibc.close(fileDescriptor)
        fileDescriptor = -1
    }

    private func open(_ operation: String) throws(SubprocessError) -> CInt {
        guard fileDescriptor >= 0 else { throw .closed(operation) }
        return fileDescriptor
    }

    private func io(_ operation: String, _ fd: CInt, readable: Bool, _ call: () -> Int) throws -> Int {
        switch try cooperativeCall(fd, readable: readable, timeout: timeout, call) {
        case .completed(let result):
            return result
        case .timedOut:
            throw SubprocessError.timedOut(operation, after: timeout ?? .zero)
        case .failed(let code):
            throw SubprocessError.systemCall(operation, Errno(rawValue: code))
        }
    }
}
