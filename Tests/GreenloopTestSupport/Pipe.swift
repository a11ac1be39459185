import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A pipe whose ends close when it goes.
public final class Pipe {
    public let readEnd: FileDescriptor
    public let writeEnd: FileDescriptor

    /// Non-blocking, so that a read after a spurious wake-up fails instead of hanging the test.
    public init() throws {
        (readEnd, writeEnd) = try FileDescriptor.pipe()
        for end in [readEnd, writeEnd] {
            _ = fcntl(end.rawValue, F_SETFL, fcntl(end.rawValue, F_GETFL) | O_NONBLOCK)
        }
    }

    deinit {
        try? readEnd.close()
        try? writeEnd.close()
    }

    public func write(_ text: String) throws { _ = try writeEnd.writeAll(text.utf8) }

    public func readAvailable() throws -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = try buffer.withUnsafeMutableBytes { try readEnd.read(into: $0) }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}
