import GreenloopCore

/// Waits until `fd` is readable (or at end of file, or in error).
///
/// - Parameter timeout: the longest wait; `nil` waits as long as it takes.
/// - Returns: false when the timeout passed first.
/// - Throws: `LoopError.invalidFileDescriptor` for a bad descriptor; what is thrown into the
///   greenlet while it waits.
@discardableResult
public func waitReadable(_ fd: FileDescriptorNumber, timeout: Duration? = nil) throws -> Bool {
    try waitForIO(fd, .read, timeout: timeout)
}

/// Waits until `fd` is writable. See ``waitReadable(_:timeout:)``.
@discardableResult
public func waitWritable(_ fd: FileDescriptorNumber, timeout: Duration? = nil) throws -> Bool {
    try waitForIO(fd, .write, timeout: timeout)
}

/// A file descriptor's number, as `waitReadable` and `waitWritable` take it.
public typealias FileDescriptorNumber = CInt

private func waitForIO(_ fd: CInt, _ events: IOEvents, timeout: Duration?) throws -> Bool {
    let readiness = try ReadinessWaiter(fd: fd, events)
    defer { readiness.close() }
    return try readiness.wait(timeout: timeout)
}
