import CLibeventServices
import Greenloop

/// A Redis reply, as hiredis gave it.
public enum RedisReply: Hashable, Sendable {
    /// A bulk string or a status ("OK", "PONG").
    case string(String)
    /// An integer reply (INCR, DEL…).
    case integer(Int64)
    /// An array reply, by its number of elements.
    case array(count: Int)
    /// The nil reply (GET of a missing key).
    case null
}

/// Why a Redis call failed.
public enum RedisError: Error, Hashable, Sendable, CustomStringConvertible {
    /// hiredis could not start connecting.
    case cannotConnect(host: String, port: Int)
    /// The connection failed or ended (reason from hiredis).
    case disconnected(String)
    /// The server answered with an error reply.
    case server(String)

    /// A sentence naming the failure.
    public var description: String {
        switch self {
        case let .cannotConnect(host, port): return "hiredis could not start connecting to \(host):\(port)"
        case let .disconnected(reason): return "the Redis connection ended: \(reason)"
        case let .server(message): return "Redis answered with an error: \(message)"
        }
    }
}

/// A Redis connection made by hiredis' libevent adapter on a shared `event_base`, used from
/// greenlets as if it blocked: each call sends through C and waits for the C callback.
public final class RedisConnection {
    private var handle: OpaquePointer?
    private let connected = CallbackResult<Void>()
    /// Set when the connection ended, with the reason (nil after a clean ``close()``).
    public private(set) var endReason: String??

    /// Connects to `host`:`port` through `base`, waiting at most `timeout`.
    ///
    /// - Throws: ``RedisError``, or `Timeout`.
    public init(base: OpaquePointer, host: String = "127.0.0.1", port: Int, timeout: Duration = .seconds(2)) throws {
        // Invariant: the C side holds this +1 reference until its final status callback.
        let context = Unmanaged.passRetained(self).toOpaque()
        guard let handle = services_redis_connect(base, host, CInt(port), redisStatusChanged, context) else {
            Unmanaged<RedisConnection>.fromOpaque(context).release()
            throw RedisError.cannotConnect(host: host, port: port)
        }
        self.handle = handle
        try connected.wait(timeout: timeout)
    }

    /// Whether the connection is still usable.
    public var isOpen: Bool { handle != nil }

    /// Runs one command and waits for its reply.
    public func command(_ arguments: String...) throws -> RedisReply {
        try pipeline([arguments])[0]
    }

    /// Sends every command before waiting for any reply (one round trip for all), then returns
    /// the replies in order.
    public func pipeline(_ commands: [[String]], timeout: Duration? = .seconds(5)) throws -> [RedisReply] {
        let pending = try commands.map { try send($0) }
        return try pending.map { try $0.wait(timeout: timeout) }
    }

    /// Disconnects after the pending replies.
    public func close() {
        if let handle { services_redis_disconnect(handle) }
    }

    private func send(_ arguments: [String]) throws -> CallbackResult<RedisReply> {
        guard let handle else { throw RedisError.disconnected(endReason.flatMap { $0 } ?? "closed") }
        let reply = CallbackResult<RedisReply>()
        let context = reply.retainedContext()
        let bytes = arguments.map { Array($0.utf8) }
        let sent = bytes.withCStrings { pointers, lengths in
            services_redis_command(handle, CInt(bytes.count), pointers, lengths, redisReplied, context)
        }
        guard sent == 0 else {
            CallbackResult<RedisReply>.complete(context, with: .failure(RedisError.disconnected("command refused")))
            throw RedisError.disconnected("command refused")
        }
        return reply
    }

    fileprivate func statusChanged(connected isUp: Bool, error: String?) {
        if isUp {
            connected.result.set(())
            return
        }
        handle = nil
        endReason = .some(error)
        if !connected.result.isReady {
            connected.result.fail(RedisError.disconnected(error ?? "closed before connecting"))
        }
    }
}

private func redisStatusChanged(_ isUp: CInt, _ error: UnsafePointer<CChar>?, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    let connection = Unmanaged<RedisConnection>.fromOpaque(context)
    connection.takeUnretainedValue().statusChanged(connected: isUp != 0, error: error.map { String(cString: $0) })
    // The final status: the C side lets go of its reference.
    if isUp == 0 { connection.release() }
}

private func redisReplied(_ reply: UnsafePointer<services_redis_reply>?, _ context: UnsafeMutableRawPointer?) {
    guard let reply = reply?.pointee else { return }
    let text = reply.text.map { pointer in
        String(decoding: UnsafeRawBufferPointer(start: pointer, count: reply.length), as: UTF8.self)
    } ?? ""
    let outcome: Result<RedisReply, any Error>
    switch UInt8(bitPattern: reply.kind) {
    case UInt8(ascii: "s"): outcome = .success(.string(text))
    case UInt8(ascii: "i"): outcome = .success(.integer(reply.integer))
    case UInt8(ascii: "a"): outcome = .success(.array(count: Int(reply.integer)))
    case UInt8(ascii: "e"): outcome = .failure(RedisError.server(text))
    case UInt8(ascii: "x"): outcome = .failure(RedisError.disconnected(text))
    default: outcome = .success(.null)
    }
    CallbackResult<RedisReply>.complete(context, with: outcome)
}

extension Array where Element == [UInt8] {
    /// Calls `body` with C pointers to every element's bytes and their lengths, valid during it.
    fileprivate func withCStrings<R>(
        _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        let buffers = map { bytes -> UnsafeMutablePointer<CChar> in
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: Swift.max(bytes.count, 1))
            bytes.withUnsafeBufferPointer { source in
                source.withMemoryRebound(to: CChar.self) { buffer.update(from: $0.baseAddress!, count: bytes.count) }
            }
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        var pointers: [UnsafePointer<CChar>?] = buffers.map { UnsafePointer($0) }
        let lengths = map(\.count)
        return pointers.withUnsafeMutableBufferPointer { p in lengths.withUnsafeBufferPointer { body(p.baseAddress!, $0.baseAddress!) } }
    }
}
