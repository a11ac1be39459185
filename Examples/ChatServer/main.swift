// greenloop-chat: a line-based chat server. Every line a client sends goes to every other client.
//
//     swift run greenloop-chat 8008          # then, in other terminals: nc 127.0.0.1 8008
//
// Each client has two greenlets: its handler reads lines, and a writer sends what the client's
// bounded queue receives, so that one slow client never holds up the others (when its queue is
// full, its messages are dropped and it is told so).

import Greenloop

#if canImport(Glibc)
import Glibc
#endif

final class Room {
    private var members: [ObjectIdentifier: Queue<[UInt8]>] = [:]

    func join(_ id: ObjectIdentifier, _ inbox: Queue<[UInt8]>) { members[id] = inbox }
    func leave(_ id: ObjectIdentifier) { members[id] = nil }
    var count: Int { members.count }

    /// Offers `line` to everyone but `sender`, without waiting.
    func broadcast(_ line: [UInt8], from sender: ObjectIdentifier) {
        for (id, inbox) in members where id != sender {
            if (try? inbox.tryPut(line)) == nil {
                try? inbox.tryPut(Array("(some messages were dropped: you are reading too slowly)\n".utf8))
            }
        }
    }
}

func chat() throws {
    let port = CommandLine.arguments.dropFirst().first.flatMap(UInt16.init) ?? 8008
    let room = Room()
    let server = try StreamServer(listeningOn: SocketAddress(ipv4: "0.0.0.0", port: port)) { client in
        let id = ObjectIdentifier(client)
        let name = client.peer?.description ?? "someone"
        let inbox = Queue<[UInt8]>(maxSize: 100)
        let writer = try spawn {
            while let line = try inbox.get() { try client.writeAll(line) }
        }
        defer {
            room.leave(id)
            try? writer.kill()
            room.broadcast(Array("* \(name) left\n".utf8), from: id)
        }
        room.join(id, inbox)
        try inbox.put(Array("welcome, \(name); \(room.count) here\n".utf8))
        room.broadcast(Array("* \(name) joined\n".utf8), from: id)
        do {
            while true {
                let line = try client.read(until: Array("\n".utf8), maxBytes: 4096)
                if line.isEmpty { return }
                room.broadcast(Array("\(name): ".utf8) + line, from: id)
            }
        } catch SocketError.systemCall(_, .connectionReset, _) {
            // The client went away abruptly: just another way to leave.
        }
    }
    print("greenloop-chat on \(server.address); Ctrl-C or SIGTERM to stop")
    // serveForever returns once stop has finished: lines under way are delivered, and clients
    // still connected after a second are disconnected.
    let handlers = try [Signal.interrupt, .terminate].map { signal in
        try SignalHandler(signal) { try server.stop(timeout: .seconds(1)) }
    }
    do {
        try server.serveForever()
    } catch is GreenletExit {}
    try handlers.forEach { try $0.cancel() }
}

do {
    try chat()
} catch {
    print("error: \(error)")
    exit(1)
}
