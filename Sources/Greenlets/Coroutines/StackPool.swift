import CFContext
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A greenlet's stack: `size` usable bytes above a guard region.
struct GreenletStack {
    /// The lowest usable address; the guard region lies just below it.
    let bottom: UnsafeMutableRawPointer
    let size: Int
    /// The end of the stack's memory. Frames grow down from ``fiberRecordSize`` below it.
    var top: UnsafeMutableRawPointer { bottom + size }
    /// The bytes at the top of every stack that hold its greenlet's sanitizer record
    /// (`greenloop_fiber_t`); a multiple of 16, which keeps the first frame aligned.
    static let fiberRecordSize = 64
}

/// Stacks of one size, made in slabs and reused.
///
/// **Layout.** A slab is one anonymous mapping (`MAP_NORESERVE`: only touched pages cost memory)
/// of stacks, each preceded by a guard region of ``Greenlet/stackGuardSize`` bytes (read when the
/// slab is made). Where the kernel has `MADV_GUARD_INSTALL` (Linux ≥ 6.13) the guard regions live
/// inside the one mapping and cost no memory, so a million stacks cost a few thousand mappings.
/// Where it answers EINVAL, they are made with `mprotect(PROT_NONE)`, which splits the mapping:
/// two mappings a stack, so `vm.max_map_count` (65530 by default) caps a process at about 32,000
/// live stacks. Every slab is registered with the overflow report (`greenloop_stack_guard_*`), so
/// a frame that reaches a guard region ends the process with a message that says so.
///
/// **What a guard catches.** A frame that touches memory below its stack, at most the guard's size
/// below it: overflow by deep recursion and by frames up to the guard's size. A single frame larger
/// than the guard may reach past it into the neighbouring stack unless its code probes each page
/// (Swift does; C compiled with `-fstack-clash-protection` does).
///
/// **Reuse.** A returned stack goes on a free list. The most recent `hotCount` keep their pages
/// (a reused stack touches no new memory); beyond that, a returned stack gives its pages back with
/// `MADV_DONTNEED`, so a burst of greenlets does not pin memory afterwards. Guard regions survive
/// `MADV_DONTNEED`. Slabs are never unmapped while the pool lives.
///
/// Not thread-safe: one pool per thread.
final class StackPool {
    let stackSize: Int
    private let pageSize: Int
    private let hotCount: Int
    /// Each slab's mapping and its record in the overflow report's table.
    private var slabs: [(base: UnsafeMutableRawPointer, length: Int, record: Int)] = []
    // Unchecked exclusivity (here and below): one thread, and no access stays open across a call.
    @exclusivity(unchecked) private var free: [UnsafeMutableRawPointer] = []
    /// Free stacks whose pages were given back; reused after the hot ones.
    @exclusivity(unchecked) private var cold: [UnsafeMutableRawPointer] = []

    /// Whether guard regions are installed inside one mapping (false: `mprotect` fallback).
    private(set) var usesGuardInstall = true

    /// - Parameter stackSize: usable bytes per stack, rounded up to whole pages (at most
    ///   ``Greenlet/maximumStackSize``, which keeps the arithmetic here from overflowing).
    init(stackSize: Int, hotCount: Int = 16) {
        pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        self.stackSize = (stackSize + pageSize - 1) / pageSize * pageSize
        self.hotCount = hotCount
        greenloop_stack_guard_prepare_thread()
    }

    deinit {
        for slab in slabs {
            greenloop_stack_guard_unregister(slab.record)
            munmap(slab.base, slab.length)
        }
    }

    /// A stack, from the free lists or a new slab.
    func take() throws(GreenletError) -> GreenletStack {
        if free.isEmpty && cold.isEmpty { try addSlab() }
        let bottom = free.popLast() ?? cold.removeLast()
        return GreenletStack(bottom: bottom, size: stackSize)
    }

    /// Returns a stack no greenlet runs on any more.
    func give(_ stack: GreenletStack) {
        if free.count < hotCount {
            free.append(stack.bottom)
        } else {
            // Safe: nothing runs on this stack; the pages read as zeros if touched again.
            madvise(stack.bottom, stack.size, MADV_DONTNEED)
            cold.append(stack.bottom)
        }
    }

    private func addSlab() throws(GreenletError) {
        let guardSize = Greenlet.stackGuardSize
        let stride = guardSize + stackSize
        // 64 stacks a slab, fewer for huge stacks: a slab is at most 64 MiB of address space
        // unless one stack alone is larger.
        let count = max(1, min(64, (64 << 20) / stride))
        let (length, overflow) = stride.multipliedReportingOverflow(by: count)
        guard !overflow else { throw .stackAllocationFailed(.noMemory) }
        guard
            let slab = mmap(
                nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                -1, 0), slab != MAP_FAILED
        else {
            throw .stackAllocationFailed(Errno(rawValue: errno))
        }
        for index in 0..<count {
            let guardRegion = slab + index * stride
            if usesGuardInstall && madvise(guardRegion, guardSize, greenloop_madv_guard_install) != 0 {
                guard errno == EINVAL else {
                    let failure = Errno(rawValue: errno)
                    munmap(slab, length)
                    throw .stackAllocationFailed(failure)
                }
                usesGuardInstall = false
            }
            if !usesGuardInstall && mprotect(guardRegion, guardSize, PROT_NONE) != 0 {
                let failure = Errno(rawValue: errno)
                munmap(slab, length)
                throw .stackAllocationFailed(failure)
            }
        }
        let record = greenloop_stack_guard_register(slab, stride, count, guardSize)
        slabs.append((slab, length, record))
        // Handed out from the lowest address up, which keeps touched memory together.
        for index in (0..<count).reversed() {
            cold.append(slab + index * stride + guardSize)
        }
    }
}
