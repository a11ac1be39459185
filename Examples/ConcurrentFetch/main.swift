// greenloop-fetch: fetches "/" from many HTTP servers at once, each with its own timeout, and
// prints each status line (or why there is none) as it arrives.
//
//     swift run greenloop-fetch localhost:8080 127.0.0.1:8081 [::1]:8082
//
// Names are resolved on the thread pool; every connection is its own greenlet.

import Greenloop

#if canImport(Glibc)
import Glibc
#endif

/// `host:port`, `[v6]:port`.
func split(_ target: String) -> (host: String, port: UInt16)? {
    guard let colon = target.lastIndex(of: ":"), let port = UInt16(target[target.index(after: colon)...]) else {
        return nil
    }
    var host = String(target[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host, port)
}

func fetch(_ targets: [String], timeout: Duration) throws {
    let pool = try ThreadPool()
    let started = LoopInstant.monotonicNow()
    let fetches = try targets.map { target in
        try spawn { () -> String in
            guard let (host, port) = split(target) else { return "\(target): not host:port" }
            do {
                return try withTimeout(timeout) {
                    let address = try resolve(host: host, port: port, timeout: timeout, pool: pool)[0]
                    let socket = try Socket.connect(to: address)
                    try socket.writeAll(Array("GET / HTTP/1.0\r\nHost: \(host)\r\n\r\n".utf8))
                    let status = try socket.read(until: Array("\r\n".utf8), maxBytes: 1024)
                    let elapsed = Double(LoopInstant.monotonicNow().nanoseconds - started.nanoseconds) / 1e6
                    let line = String(decoding: status, as: UTF8.self).trimmingTrailingNewline
                    return "\(target) (\(address)) after \(Int(elapsed)) ms: \(line)"
                }
            } catch {
                return "\(target): \(error)"
            }
        }
    }
    for fetch in fetches { print(try fetch.value()) }
}

extension String {
    var trimmingTrailingNewline: String {
        var text = self
        // "\r\n" is one Character in Swift: test for newlines, not for "\n".
        while let last = text.last, last.isNewline { text.removeLast() }
        return text
    }
}

let targets = Array(CommandLine.arguments.dropFirst())
if targets.isEmpty {
    print("usage: greenloop-fetch host:port ...")
    exit(2)
}
do {
    try fetch(targets, timeout: .seconds(3))
} catch {
    print("error: \(error)")
    exit(1)
}
