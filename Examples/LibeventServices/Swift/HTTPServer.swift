import CLibeventServices

/// The C evhttp server on a shared `event_base`.
public final class HTTPServer {
    private let server: OpaquePointer

    /// Starts it on 127.0.0.1:`port` (0: a free port); `nil` when evhttp cannot bind.
    public init?(base: OpaquePointer, port: Int = 0) {
        guard let server = services_http_server_start(base, CInt(port)) else { return nil }
        self.server = server
    }

    deinit { services_http_server_free(server) }

    /// The port it listens on.
    public var port: Int { Int(services_http_server_port(server)) }
    /// Requests served.
    public var requestsServed: Int { services_http_server_requests(server) }
}
