import CLibevent
import Greenloop

#if canImport(Glibc)
import Glibc
#endif

/// A DNS server of a few lines, as a greenlet: answers A queries for the names it knows and
/// NXDOMAIN for the rest. Enough for evdns, without any outside network.
final class LoopbackDNSResponder {
    let socket: Socket
    let answers: [String: [UInt8]]
    var port: UInt16 { socket.localAddress?.port ?? 0 }

    init(answers: [String: [UInt8]]) throws {
        self.answers = answers
        socket = try Socket(.ipv4, .datagram)
        try socket.bind(to: SocketAddress(ipv4: "127.0.0.1", port: 0))
    }

    func serve() throws {
        while true {
            let (query, from) = try socket.receive()
            guard query.count > 12 else { continue }
            // The question: labels from offset 12, then type and class.
            var labels: [String] = []
            var offset = 12
            while offset < query.count, query[offset] != 0 {
                let length = Int(query[offset])
                labels.append(String(decoding: query[(offset + 1)..<min(query.count, offset + 1 + length)], as: UTF8.self))
                offset += length + 1
            }
            let questionEnd = offset + 5
            guard questionEnd <= query.count else { continue }
            // evdns randomizes the case of the name it asks for (and checks the reply echoes it).
            let address = answers[labels.joined(separator: ".").lowercased()]
            var reply = Array(query[0..<2])
            reply += [0x81, address == nil ? 0x83 : 0x80]  // response, recursion; NXDOMAIN or no error
            reply += [0, 1, 0, address == nil ? 0 : 1, 0, 0, 0, 0]
            reply += query[12..<questionEnd]
            if let address {
                reply += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4] + address
            }
            try socket.send(reply, to: from)
        }
    }
}

/// evdns failed to resolve a name.
struct DNSLookupError: Error, CustomStringConvertible {
    let code: CInt
    var description: String { String(cString: evdns_err_to_string(code)) }
}

/// Resolves `name` with evdns, waiting in the calling greenlet for evdns' C callback.
func resolveIPv4(_ dns: OpaquePointer, _ name: String) throws -> [String] {
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
