import CGreenloopSystem
#if canImport(Glibc)
import Glibc
#endif

/// Resolves `host` to addresses with `port`, cooperatively: `getaddrinfo` (which honours
/// /etc/hosts and nsswitch) runs on `pool`'s worker thread while the calling greenlet waits, at
/// most `timeout`.
///
/// - Returns: every address found, IPv4 and IPv6, in the resolver's order, without duplicates.
/// - Throws: ``ResolveError`` (no such name, resolver failure), ``Timeout``.
public func resolve(host: String, port: UInt16, timeout: Duration = .seconds(10), pool: ThreadPool) throws -> [SocketAddress] {
    try withTimeout(timeout) {
        try pool.run { () throws -> [SocketAddress] in
            var hints = addrinfo()
            hints.ai_socktype = CInt(SOCK_STREAM.rawValue)
            hints.ai_family = AF_UNSPEC
            var list: UnsafeMutablePointer<addrinfo>?
            let code = getaddrinfo(host, String(port), &hints, &list)
            guard code == 0 else {
                throw ResolveError(host: host, code: code, message: String(cString: gai_strerror(code)))
            }
            defer { freeaddrinfo(list) }
            var addresses: [SocketAddress] = []
            // Safe: getaddrinfo's list and each ai_addr (ai_addrlen bytes) live until freeaddrinfo.
            var node = list
            while let entry = node?.pointee {
                if let raw = entry.ai_addr {
                    var storage = sockaddr_storage()
                    withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: Int(entry.ai_addrlen))) }
                    let address = SocketAddress(storage: storage, length: entry.ai_addrlen)
                    if !addresses.contains(address) { addresses.append(address) }
                }
                node = entry.ai_next
            }
            return addresses
        }
    }
}

/// A name that could not be resolved.
public struct ResolveError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The name asked for.
    public let host: String
    /// `getaddrinfo`'s error code (`EAI_NONAME`…).
    public let code: CInt
    /// `gai_strerror`'s text.
    public let message: String

    /// "cannot resolve nosuch.invalid: Name or service not known".
    public var description: String { "cannot resolve \(host): \(message)" }
}
