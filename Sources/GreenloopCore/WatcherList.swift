/// The watchers of one kind that the loop itself dispatches (prepare, check, idle, async, one
/// signal), in the order they were started.
///
/// The list holds them **unowned**: the loop must not keep a watcher alive, since a watcher stops
/// when its last reference goes (its deinit removes it from here first, so no entry ever
/// outlives its watcher). Entries are compared by identity without touching the object, which may
/// be in its deinit.
///
/// ``forEach(_:)`` is safe against its own callbacks: a watcher removed during the walk is not
/// visited (the current one included), one added is not visited until the next walk.
final class WatcherList<Element: AnyObject> {
    private struct Entry {
        unowned let watcher: Element
        let id: ObjectIdentifier
    }

    // Unchecked exclusivity: used on the loop's thread only, and no access stays open across a
    // callback (`forEach` reads an entry, then calls); the loop asks `isEmpty` every iteration.
    @exclusivity(unchecked) private var entries: [Entry] = []
    /// During a walk: the index being visited, and the end of the walk; -1 otherwise.
    @exclusivity(unchecked) private var cursor = -1
    @exclusivity(unchecked) private var end = 0

    var isEmpty: Bool { entries.isEmpty }

    func append(_ watcher: Element) {
        entries.append(Entry(watcher: watcher, id: ObjectIdentifier(watcher)))
    }

    func remove(_ watcher: Element) {
        let id = ObjectIdentifier(watcher)
        guard let index = entries.firstIndex(where: { $0.id == id }) else { return }
        entries.remove(at: index)
        guard cursor >= 0 else { return }
        if index < end { end -= 1 }
        if index <= cursor { cursor -= 1 }
    }

    /// Calls `body` with each watcher present when the walk began and still present.
    func forEach(_ body: (Element) -> Void) {
        if cursor >= 0 { fatalError("WatcherList walks do not nest") }
        cursor = 0
        end = entries.count
        defer { cursor = -1 }
        while cursor < end {
            let watcher = entries[cursor].watcher
            body(watcher)
            cursor += 1
        }
    }
}
