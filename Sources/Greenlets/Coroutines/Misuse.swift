/// Stops the program for a programming error, with `message` in every build.
///
/// `precondition` prints its message only in unoptimized builds: an optimized one traps with no
/// word of what was wrong, and a user who passed `Pool(size: 0)` learns nothing from the crash.
/// `fatalError` keeps the message, so every check on a caller's argument or on the library's own
/// invariants goes through here.
@inline(never)
func misuse(_ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError(message(), file: file, line: line)
}

/// Calls ``misuse(_:file:line:)`` unless `condition` holds. Cost when it holds: one branch.
@inline(__always)
func require(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() { misuse(message(), file: file, line: line) }
}
