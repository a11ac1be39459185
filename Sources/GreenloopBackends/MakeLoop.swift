@_exported import GreenloopCore
import GreenloopLibev
import GreenloopLibevent
import Logging

/// Makes a loop on the backend chosen by, in this order: `backend` when given, else the
/// `GREENLOOP_BACKEND` environment variable, else libev with its best method.
///
/// ```swift
/// let loop = try makeLoop()                    // GREENLOOP_BACKEND or libev
/// let loop = try makeLoop(.libevent)           // libevent, whatever the variable says
/// let loop = try makeLoop(Backend(parsing: "libev:poll"))
/// ```
///
/// - Parameters:
///   - backend: the backend to use regardless of the environment.
///   - logger: where the loop reports errors thrown by callbacks; by default a `Logger` labelled
///     "greenloop", which goes to whatever logging backend the program bootstrapped.
/// - Throws: ``GreenloopCore/LoopError/invalidBackendSelection(_:)`` when the variable holds a
///   value that is not an accepted spelling (the message names the variable, the value and the
///   accepted values); ``GreenloopCore/LoopError/backendUnavailable(_:reason:)`` when the
///   machine cannot provide the chosen backend or method. Never a silent fallback.
public func makeLoop(_ backend: Backend? = nil, logger: Logger = Logger(label: "greenloop")) throws(LoopError)
    -> EventLoop
{
    let chosen: Backend
    do {
        chosen = try Backend.resolve(explicit: backend)
    } catch {
        throw .invalidBackendSelection(error)
    }
    switch chosen.kind {
    case .libev: return try Libev.makeLoop(method: chosen.method, logger: logger)
    case .libevent: return try Libevent.makeLoop(method: chosen.method, logger: logger)
    }
}
