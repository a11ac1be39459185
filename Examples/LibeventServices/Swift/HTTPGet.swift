import Greenloop

/// One HTTP/1.1 GET with `Connection: close`; returns the status line and the body.
public func httpGet(port: UInt16, path: String) throws -> (status: String, body: String) {
    let socket = try Socket.connect(to: SocketAddress(ipv4: "127.0.0.1", port: port), timeout: .seconds(10))
    defer { socket.close() }
    socket.timeout = .seconds(20)
    try socket.writeAll(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
    var response: [UInt8] = []
    while case let chunk = try socket.read(), !chunk.isEmpty { response += chunk }
    let separator = Array("\r\n\r\n".utf8)
    guard let end = (0...max(0, response.count - separator.count)).first(where: {
        response[$0..<min(response.count, $0 + separator.count)].elementsEqual(separator)
    }) else { return (String(decoding: response, as: UTF8.self), "") }
    let statusLine = response.prefix { $0 != UInt8(ascii: "\r") }
    return (String(decoding: statusLine, as: UTF8.self), String(decoding: response[(end + separator.count)...], as: UTF8.self))
}
