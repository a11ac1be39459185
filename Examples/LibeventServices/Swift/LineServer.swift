import CLibeventServices

/// The C line server (bufferevents) on a shared `event_base`.
public final class LineServer {
    private let server: OpaquePointer

    /// Starts it on 127.0.0.1:`port` (0: a free port); `nil` when libevent cannot listen.
    public init?(base: OpaquePointer, port: Int = 0) {
        guard let server = services_line_server_start(base, CInt(port)) else { return nil }
        self.server = server
    }

    deinit { services_line_server_free(server) }

    /// The port it listens on.
    public var port: Int { Int(services_line_server_port(server)) }
    /// Lines answered over all connections.
    public var linesAnswered: Int { services_line_server_lines(server) }
    /// Connections open now.
    public var openConnections: Int { Int(services_line_server_connections(server)) }
}
