import Greenlets
@_exported import GreenloopTestSupport
import GreenloopBackends
import GreenloopCore
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif


