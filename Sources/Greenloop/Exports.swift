@_exported import GreenloopBackends
@_exported import GreenloopCore
@_exported import Greenlets
@_exported import LibeventAdapter
