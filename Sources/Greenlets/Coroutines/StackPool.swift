import CFContext
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A greenlet's stack: `size` usable bytes above a guard page.
struct GreenletStack {
    /// The lowest usable address; the guard page lies just below it.
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
/// of `slabCount` stacks, each preceded by one guard page. Where the kernel has
/// `MADV_GUARD_INSTALL` (Linux ≥ 6.13) the guard pages live inside the one mapping, so a million
/// stacks cost a few thousand mappings. Where it answers EINVAL, the guard pages are made with
/// `mprotect(PROT_NONE)`, which splits the mapping: two mappings a stack, so `vm.max_map_count`
/// (65530 by default) caps a process at about 32,000 live stacks.
///
/// **Reuse.** A returned stack goes on a free list. The most recent `hotCount` keep their pages
/// (a reused stack touches no new memory); beyond that, a returned stack gives its pages back with
/// `MADV_DONTNEED`, so a burst of greenlets does not pin memory afterwards. Guard pages survive
/// `MADV_DONTNEED`. Slabs are never unmapped while the pool lives.
///
/// Not thread-safe: one pool per thread.
final class StackPool {
    let stackSize: Int
    private let pageSize: Int
    private let stride: Int
    private let slabCount: Int
    private let hotCount: Int
    private var slabs: [UnsafeMutableRawPointer] = []
    // Unchecked exclusivity (here and below): one thread, and no access stays open across a call.
    @exclusivity(unchecked) private var free: [UnsafeMutableRawPointer] = []
    /// Free stacks whose pages were given back; reused after the hot ones.
    @exclusivity(unchecked) private var cold: [UnsafeMutableRawPointer] = []

    /// Whether guard pages are installed inside one mapping (false: `mprotect` fallback).
    private(set) var usesGuardInstall = true

    /// - Parameter stackSize: usable bytes per stack, rounded up to whole pages.
    init(stackSize: Int, slabCount: Int = 64, hotCount: Int = 16) {
        pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        self.stackSize = (stackSize + pageSize - 1) / pageSize * pageSize
        stride = self.stackSize + pageSize
        self.slabCount = slabCount
        self.hotCount = hotCount
    }

    deinit {
        for slab in slabs { munmap(slab, stride * slabCount) }
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
        let length = stride * slabCount
        guard
            let slab = mmap(
                nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                -1, 0), slab != MAP_FAILED
        else {
            throw .stackAllocationFailed(Errno(rawValue: errno))
        }
        for index in 0..<slabCount {
            let guardPage = slab + index * stride
            if usesGuardInstall && madvise(guardPage, pageSize, greenloop_madv_guard_install) != 0 {
                guard errno == EINVAL else {
                    let failure = Errno(rawValue: errno)
                    munmap(slab, length)
                    throw .stackAllocationFailed(failure)
                }
                usesGuardInstall = false
            }
            if !usesGuardInstall && mprotect(guardPage, pageSize, PROT_NONE) != 0 {
                let failure = Errno(rawValue: errno)
                munmap(slab, length)
                throw .stackAllocationFailed(failure)
            }
        }
        slabs.append(slab)
        // Handed out from the lowest address up, which keeps touched memory together.
        for index in (0..<slabCount).reversed() {
            cold.append(slab + index * stride + pageSize)
        }
    }
}
