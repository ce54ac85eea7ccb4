/// The event queue is split into shards by visitor so that one worker at a time applies a
/// visitor's events, in order. Collectors and engines must agree on the count, so it is fixed.
public enum QueueShards {
    public static let count = 64

    /// FNV-1a of the site and visitor key: stable across processes and releases (Swift's `hashValue` is not).
    public static func shard(siteID: Int64, visitor: String?) -> Int16 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(siteID):\(visitor ?? "")".utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int16(hash % UInt64(count))
    }

    /// Which of an event's ids is its visitor key.
    public enum VisitorKeySource: Sendable { case anonymousID, aliasPreviousID, userID }

    /// The id an event is sharded by, so that one worker applies a visitor's events in order: the
    /// anonymous id; for an alias without one, the id it replaces (usually that visitor's anonymous
    /// id, so it goes with the visitor's other events); else the user id. The collector shards by
    /// it and the engine defers by it: both must agree.
    public static func visitorKey(type: String, anonymousID: String?, userID: String?, previousID: String?)
        -> (source: VisitorKeySource, value: String)? {
        if let anonymousID { return (.anonymousID, anonymousID) }
        if type == "alias", let previousID { return (.aliasPreviousID, previousID) }
        if let userID { return (.userID, userID) }
        return nil
    }
}
