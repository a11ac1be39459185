import Greenloop

#if canImport(Glibc)
import Glibc
#endif

/// A DNS server of a few lines, as a greenlet: answers A queries for the names it knows and
/// NXDOMAIN for the rest. Enough for evdns, without any outside network.
public final class LoopbackDNSResponder {
    /// The UDP socket it answers on.
    public let socket: Socket
    /// The names it knows, lowercased, and their IPv4 addresses.
    public let answers: [String: [UInt8]]
    /// Its port on 127.0.0.1.
    public var port: UInt16 { socket.localAddress?.port ?? 0 }

    /// Binds to 127.0.0.1 on a free port.
    public init(answers: [String: [UInt8]]) throws {
        self.answers = answers
        socket = try Socket(.ipv4, .datagram)
        try socket.bind(to: SocketAddress(ipv4: "127.0.0.1", port: 0))
    }

    /// Answers queries until the greenlet is killed.
    public func serve() throws {
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
