/// Each user's actions in time order: a compressed-sparse-row view over an `ActionLog`.
///
/// Input files are not trusted to be sorted: actions are ordered by (user, timestamp) with
/// ties kept in file order (a stable sort), which is also how RecBole orders them.
public struct Timelines: Sendable {
  /// `offsets[u]..<offsets[u+1]` indexes `order` for user u.
  public let offsets: [Int]
  /// Action indices into the log, grouped by user, each group sorted by time.
  public let order: [Int32]

  /// Groups the actions of `log` by user, each group stably sorted by timestamp.
  public init(_ log: ActionLog) {
    let userCount = log.userCount
    var offsets = [Int](repeating: 0, count: userCount + 1)
    for u in log.users { offsets[Int(u) + 1] += 1 }
    for u in 0..<userCount { offsets[u + 1] += offsets[u] }
    // Counting sort by user keeps file order within a user (stable) ...
    var cursor = offsets
    var order = [Int32](repeating: 0, count: log.count)
    for i in 0..<log.count {
      let u = Int(log.users[i])
      order[cursor[u]] = Int32(i)
      cursor[u] += 1
    }
    // ... then a stable sort by timestamp within each user (ties keep file order).
    let timestamps = log.timestamps
    order.withUnsafeMutableBufferPointer { buffer in
      for u in 0..<userCount where offsets[u + 1] - offsets[u] > 1 {
        let range = offsets[u]..<offsets[u + 1]
        var isSorted = true
        for j in range.dropFirst() where timestamps[Int(buffer[j - 1])] > timestamps[Int(buffer[j])] {
          isSorted = false
          break
        }
        if isSorted { continue }
        let sorted = buffer[range].sorted { a, b in
          let (ta, tb) = (timestamps[Int(a)], timestamps[Int(b)])
          return ta != tb ? ta < tb : a < b
        }
        for (j, value) in zip(range, sorted) { buffer[j] = value }
      }
    }
    self.offsets = offsets
    self.order = order
  }

  /// Number of users (the log's `userCount`), including users without actions.
  public var userCount: Int { offsets.count - 1 }

  /// Action indices of user `u`, oldest first.
  public func actions(of user: Int) -> ArraySlice<Int32> {
    order[offsets[user]..<offsets[user + 1]]
  }
}
