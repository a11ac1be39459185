/// One thread's buffer for socket reads: a read receives into it and copies out exactly what came.
///
/// Receiving straight into a new 64 KiB array cost a large allocation per read (and page faults
/// when the allocator gave its memory back), and left 64 KiB of capacity behind every 64-byte
/// message. Sharing one buffer per thread is safe because nothing switches between the `recv`
/// that fills it and the copy that empties it.
final class ReceiveScratch {
    /// Reads of at most this many bytes use the buffer; larger ones get their own.
    static let size = 65536

    let base: UnsafeMutableRawPointer

    init() {
        base = .allocate(byteCount: ReceiveScratch.size, alignment: 16)
    }

    deinit { base.deallocate() }
}
