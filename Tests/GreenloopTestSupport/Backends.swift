import GreenloopCore

/// Every loop-level and hub-level test runs once per entry.
public let allBackends: [Backend] = [.libev, .libevent]
