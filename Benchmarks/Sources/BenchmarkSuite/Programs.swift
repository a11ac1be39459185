import Foundation

/// Where the suite finds its programs and writes its results.
struct Paths {
    let benchmarks: URL
    var binaries: URL { benchmarks.appendingPathComponent(".build/release") }
    var results: URL { benchmarks.appendingPathComponent("results") }
    var venv: URL { benchmarks.appendingPathComponent(".venv") }
    var python: String { venv.appendingPathComponent("bin/python").path }
    var geventWorkloads: String { benchmarks.appendingPathComponent("gevent/workloads.py").path }

    func binary(_ name: String) -> String { binaries.appendingPathComponent(name).path }
}

struct ProgramError: Error, CustomStringConvertible {
    let description: String
}

/// Runs a program to its end and returns its standard output.
func runProgram(_ arguments: [String], environment: [String: String] = [:], cpus: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = (cpus.map { ["taskset", "-c", $0] } ?? []) + arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0 else {
        throw ProgramError(description: "\(arguments.joined(separator: " ")) exited with \(process.terminationStatus): \(text)")
    }
    return text
}

/// The figures of the JSON object on the last line of a program's output.
func figures(from output: String) throws -> [String: Double] {
    guard let line = output.split(separator: "\n").last,
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    else { throw ProgramError(description: "no JSON figures in: \(output)") }
    return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
}

/// One figure from a measuring program.
func figure(_ key: String, of arguments: [String], environment: [String: String] = [:], cpus: String? = "0") throws
    -> Double
{
    let all = try figures(from: runProgram(arguments, environment: environment, cpus: cpus))
    guard let value = all[key] else { throw ProgramError(description: "\(arguments[0]) did not report \(key)") }
    return value
}

/// A server started for one measurement and killed after it.
final class ServerProcess {
    let process = Process()
    let port: Int

    init(_ arguments: [String], port: Int, environment: [String: String] = [:], cpus: String?) throws {
        self.port = port
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = (cpus.map { ["taskset", "-c", $0] } ?? []) + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        try waitUntilListening()
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    var pid: Int32 { process.processIdentifier }

    private func waitUntilListening() throws {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            guard process.isRunning else { throw ProgramError(description: "\(process.arguments!) exited at start") }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            close(fd)
            if connected == 0 { return }
            usleep(20_000)
        }
        throw ProgramError(description: "\(process.arguments!) did not listen on port \(port)")
    }
}

/// A free port on 127.0.0.1.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length)
            return getsockname(fd, pointer, &length)
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
