@testable import Greenlets
import Testing

/// The storage of the hub's queues, checked against an array doing the same operations.
@Suite("ring queue")
struct RingQueueTests {
    /// Counts live instances, so that a leak or a double destroy shows.
    final class Tracked {
        nonisolated(unsafe) static var live = 0
        let value: Int
        init(_ value: Int) {
            self.value = value
            Tracked.live += 1
        }
        deinit { Tracked.live -= 1 }
    }

    @Test("first in, first out across wrap-arounds, growth while wrapped, and removals from the middle")
    func matchesAnArray() {
        var queue = RingQueue<Int>(minimumCapacity: 4)
        var model: [Int] = []
        var next = 0
        // A fixed pseudo-random sequence of operations, biased to grow the queue over time.
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            switch seed >> 61 {
            case 0, 1, 2, 3:
                queue.append(next)
                model.append(next)
                next += 1
            case 4, 5:
                #expect(queue.popFirst() == model.first)
                if !model.isEmpty { model.removeFirst() }
            default:
                guard !model.isEmpty else { continue }
                let offset = Int((seed >> 20) % UInt64(model.count))
                #expect(queue.remove(at: offset) == model.remove(at: offset))
            }
            #expect(queue.count == model.count)
            if let probe = model.indices.randomElement() {
                #expect(queue[probe] == model[probe])
                #expect(queue.firstIndex { $0 == model[probe] } == probe)
            }
        }
        while let value = queue.popFirst() { #expect(value == model.removeFirst()) }
        #expect(model.isEmpty && queue.isEmpty)
    }

    @Test("elements are destroyed exactly once: when taken out, and by the queue's end")
    func destroysWhatItHolds() {
        Tracked.live = 0
        do {
            var queue = RingQueue<Tracked>(minimumCapacity: 2)
            for value in 0..<5 { queue.append(Tracked(value)) }
            #expect(queue.popFirst()?.value == 0)
            #expect(queue.remove(at: 1).value == 2)
            // Wrapped, then grown while wrapped.
            for value in 5..<12 { queue.append(Tracked(value)) }
            #expect(Tracked.live == 10)
            #expect((0..<queue.count).map { queue[$0].value } == [1, 3, 4, 5, 6, 7, 8, 9, 10, 11])
        }
        #expect(Tracked.live == 0)
    }
}
