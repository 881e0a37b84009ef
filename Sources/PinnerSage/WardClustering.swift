import Vectors

/// One merge of an agglomerative clustering, in SciPy's linkage-matrix convention: clusters
/// 0..<n are the points, merge i creates cluster n + i.
public struct Merge: Sendable, Equatable {
  /// The merged cluster with the smaller label.
  public let first: Int
  /// The merged cluster with the larger label.
  public let second: Int
  /// Ward distance between the merged clusters: sqrt(2 · ΔSSE), which for two single points is
  /// their Euclidean distance (SciPy's height convention for method="ward").
  public let height: Double
  /// Number of points in the new cluster.
  public let size: Int
}

/// Ward agglomerative clustering by the nearest-neighbour-chain algorithm (Müllner 2011), with
/// Lance–Williams updates. It follows SciPy's `linkage(X, method="ward")` step for step
/// (the same scan order, tie-breaking toward the previous chain element, stable sort by height
/// and relabelling), so the linkage — including ties and duplicate points — equals SciPy's.
///
/// Time O(m²·d) for the distances plus O(m²) for the chain; memory: one condensed distance
/// matrix of m(m−1)/2 doubles (about 100 MB at m = 5,000; cap the actions per user above that).
public enum WardClustering {
  /// The Ward linkage of `points` (Euclidean): n − 1 merges by increasing height, as SciPy's;
  /// empty for fewer than 2 points.
  public static func linkage(_ points: VectorMatrix) -> [Merge] {
    let n = points.count
    guard n >= 2 else { return [] }
    let d = points.dimension
    // Condensed Euclidean distances, SciPy's pdist layout.
    var distances = [Double](repeating: 0, count: n * (n - 1) / 2)
    points.withUnsafeBufferPointer { x in
      var k = 0
      for i in 0..<n {
        for j in (i + 1)..<n {
          var sum = 0.0
          for c in 0..<d {
            let diff = Double(x[i * d + c]) - Double(x[j * d + c])
            sum += diff * diff
          }
          distances[k] = sum.squareRoot()
          k += 1
        }
      }
    }
    @inline(__always) func index(_ i: Int, _ j: Int) -> Int {
      let (a, b) = i < j ? (i, j) : (j, i)
      return n * a - a * (a + 1) / 2 + b - a - 1
    }
    var size = [Int](repeating: 1, count: n)
    var chain = [Int]()
    chain.reserveCapacity(n)
    var merges = [(x: Int, y: Int, height: Double, size: Int)]()
    merges.reserveCapacity(n - 1)
    for _ in 0..<(n - 1) {
      if chain.isEmpty { chain.append(size.firstIndex { $0 > 0 }!) }
      var x = 0
      var y = 0
      var currentMin = Double.infinity
      while true {
        x = chain[chain.count - 1]
        // Prefer the previous chain element as the minimum, to avoid cycles.
        if chain.count > 1 {
          y = chain[chain.count - 2]
          currentMin = distances[index(x, y)]
        } else {
          currentMin = .infinity
        }
        for i in 0..<n where size[i] > 0 && i != x {
          let dist = distances[index(x, i)]
          if dist < currentMin {
            currentMin = dist
            y = i
          }
        }
        if chain.count > 1 && y == chain[chain.count - 2] { break }
        chain.append(y)
      }
      chain.removeLast(2)
      if x > y { swap(&x, &y) }
      let (nx, ny) = (size[x], size[y])
      merges.append((x, y, currentMin, nx + ny))
      size[x] = 0
      size[y] = nx + ny
      // Lance–Williams update for Ward on Euclidean distances.
      for i in 0..<n where size[i] > 0 && i != y {
        let ni = Double(size[i])
        let t = 1 / (Double(nx) + Double(ny) + ni)
        let dxi = distances[index(i, x)]
        let dyi = distances[index(i, y)]
        let value =
          (ni + Double(nx)) * t * dxi * dxi + (ni + Double(ny)) * t * dyi * dyi - ni * t * currentMin
          * currentMin
        distances[index(i, y)] = value.squareRoot()
      }
    }
    // Stable sort by height, then relabel with a union-find as SciPy's `label` does.
    let order = merges.indices.sorted {
      merges[$0].height < merges[$1].height || (merges[$0].height == merges[$1].height && $0 < $1)
    }
    var parent = Array(0..<(2 * n - 1))
    var clusterSize = [Int](repeating: 1, count: 2 * n - 1)
    func find(_ x: Int) -> Int {
      var root = x
      while parent[root] != root { root = parent[root] }
      var node = x
      while parent[node] != root {
        let next = parent[node]
        parent[node] = root
        node = next
      }
      return root
    }
    var result = [Merge]()
    result.reserveCapacity(n - 1)
    for (i, m) in order.map({ merges[$0] }).enumerated() {
      let (a, b) = (find(m.x), find(m.y))
      let label = n + i
      parent[a] = label
      parent[b] = label
      clusterSize[label] = clusterSize[a] + clusterSize[b]
      result.append(Merge(first: min(a, b), second: max(a, b), height: m.height, size: clusterSize[label]))
    }
    return result
  }

  /// Flat clusters: points joined by merges of height <= `threshold` (SciPy's
  /// `fcluster(Z, threshold, criterion="distance")`). Returns a cluster index per point,
  /// numbered 0... in order of each cluster's first point.
  public static func flatClusters(_ merges: [Merge], pointCount n: Int, threshold: Double) -> [Int] {
    var parent = Array(0..<(n + merges.count))
    func find(_ x: Int) -> Int {
      var root = x
      while parent[root] != root { root = parent[root] }
      return root
    }
    for (i, m) in merges.enumerated() {
      let label = n + i
      if m.height <= threshold {
        parent[find(m.first)] = label
        parent[find(m.second)] = label
      }
    }
    var numbering = [Int: Int]()
    return (0..<n).map { point in
      let root = find(point)
      if let known = numbering[root] { return known }
      numbering[root] = numbering.count
      return numbering.count - 1
    }
  }
}
