@_exported import GreenloopBackends
@_exported import GreenloopCore
