import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// An IPv4, IPv6 or Unix-domain socket address.
///
/// Made from numeric hosts only (`127.0.0.1`, `::1`); names need resolving first.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address family: `AF_INET`, `AF_INET6` or `AF_UNIX`.
    public let family: CInt
    /// The raw `sockaddr_*` bytes, exactly `length` of them.
    private let bytes: [UInt8]

    /// An IPv4 address, such as `SocketAddress(ipv4: "127.0.0.1", port: 8080)`.
    ///
    /// - Throws: ``SocketError/invalidAddress(_:)`` for text that is not a dotted quad.
    public init(ipv4 host: String, port: UInt16) throws(SocketError) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw .invalidAddress("\(host) is not an IPv4 address")
        }
        self.init(raw: address, family: AF_INET)
    }

    /// An IPv6 address, such as `SocketAddress(ipv6: "::1", port: 8080)`.
    public init(ipv6 host: String, port: UInt16) throws(SocketError) {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = port.bigEndian
        guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else {
            throw .invalidAddress("\(host) is not an IPv6 address")
        }
        self.init(raw: address, family: AF_INET6)
    }

    /// An IPv4 or IPv6 address, whichever `host` spells.
    public init(host: String, port: UInt16) throws(SocketError) {
        if let v4 = try? SocketAddress(ipv4: host, port: port) {
            self = v4
        } else if let v6 = try? SocketAddress(ipv6: host, port: port) {
            self = v6
        } else {
            throw .invalidAddress("\(host) is neither an IPv4 nor an IPv6 address (resolve names first)")
        }
    }

    /// A Unix-domain address at `path` (at most 107 bytes).
    public init(unixPath path: String) throws(SocketError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let utf8 = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !utf8.isEmpty, utf8.count < capacity else {
            throw .invalidAddress("a Unix socket path has 1 to \(capacity - 1) bytes; \(path) has \(utf8.count)")
        }
        // Safe: `utf8.count < capacity`, so the copy and its terminating zero fit in sun_path.
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: utf8)
            raw[utf8.count] = 0
        }
        self.init(raw: address, family: AF_UNIX)
    }

    /// An address from raw bytes the kernel filled in (accept, getsockname, recvfrom).
    init(storage: sockaddr_storage, length: socklen_t) {
        var copy = storage
        // Safe: the kernel wrote `length` bytes, at most sizeof(sockaddr_storage).
        bytes = withUnsafeBytes(of: &copy) { Array($0.prefix(Int(length))) }
        family = CInt(storage.ss_family)
    }

    private init<Raw>(raw: Raw, family: CInt) {
        var copy = raw
        bytes = withUnsafeBytes(of: &copy) { Array($0) }
        self.family = family
    }

    /// The port, for IPv4 and IPv6 addresses.
    public var port: UInt16? {
        guard family == AF_INET || family == AF_INET6, bytes.count >= 4 else { return nil }
        // sin_port and sin6_port both sit at offset 2, in network byte order.
        return UInt16(bytes[2]) << 8 | UInt16(bytes[3])
    }

    /// Calls `body` with the address as a `sockaddr` and its length, for a system call.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        // Safe: the bytes are a whole sockaddr_* of `family`, valid for the call.
        try bytes.withUnsafeBytes { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
    }

    /// `127.0.0.1:8080`, `[::1]:8080`, or `unix:/path`.
    public var description: String {
        switch family {
        case AF_INET, AF_INET6:
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            let offset = family == AF_INET ? 4 : 8  // sin_addr, sin6_addr
            _ = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress! + offset, &text, socklen_t(text.count)) }
            let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return family == AF_INET ? "\(host):\(port ?? 0)" : "[\(host)]:\(port ?? 0)"
        case AF_UNIX:
            let path = bytes.dropFirst(2).prefix { $0 != 0 }
            return "unix:" + String(decoding: path, as: UTF8.self)
        default:
            return "address of family \(family)"
        }
    }
}
