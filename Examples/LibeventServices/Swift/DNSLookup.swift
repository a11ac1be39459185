import CLibevent
import Greenloop

/// evdns failed to resolve a name.
public struct DNSLookupError: Error, CustomStringConvertible {
    /// evdns' error code (DNS_ERR_…).
    public let code: CInt
    /// evdns' own words for it.
    public var description: String { String(cString: evdns_err_to_string(code)) }
}

/// Resolves `name` with evdns, waiting in the calling greenlet for evdns' C callback.
public func resolveIPv4(_ dns: OpaquePointer, _ name: String) throws -> [String] {
    let lookup = CallbackResult<[String]>()
    let context = lookup.retainedContext()
    guard evdns_base_resolve_ipv4(dns, name, CInt(DNS_QUERY_NO_SEARCH), resolved, context) != nil else {
        CallbackResult<[String]>.complete(context, with: .failure(DNSLookupError(code: CInt(DNS_ERR_UNKNOWN))))
        return try lookup.wait()
    }
    return try lookup.wait(timeout: .seconds(10))
}

private func resolved(_ result: CInt, _ type: CChar, _ count: CInt, _ ttl: CInt,
                      _ addresses: UnsafeMutableRawPointer?, _ context: UnsafeMutableRawPointer?) {
    guard result == DNS_ERR_NONE, let addresses else {
        CallbackResult<[String]>.complete(context, with: .failure(DNSLookupError(code: result)))
        return
    }
    let bytes = addresses.assumingMemoryBound(to: UInt8.self)
    let found = (0..<Int(count)).map { index in
        (0..<4).map { String(bytes[index * 4 + $0]) }.joined(separator: ".")
    }
    CallbackResult<[String]>.complete(context, with: .success(found))
}
