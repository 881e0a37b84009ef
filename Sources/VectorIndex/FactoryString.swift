/// FAISS factory strings as this package reads them: the one parser of "IVF4096,PQ16x8np,RFlat".
public enum FactoryString {
  /// `factory` as FAISS describes a built index: each "PQ<m>[x<bits>][np]" part as "PQ<m>x<bits>"
  /// (8 bits when unsaid; "np", a training option, dropped): "IVF4096,PQ16np" -> "IVF4096,PQ16x8".
  public static func normalized(_ factory: String) -> String {
    factory.split(separator: ",", omittingEmptySubsequences: false).map { part -> String in
      guard part.hasPrefix("PQ") else { return String(part) }
      var pq = part.hasSuffix("np") ? part.dropLast(2) : part[...]
      if !pq.contains("x") { pq += "x8" }
      return String(pq)
    }.joined(separator: ",")
  }

  /// The IVF-PQ shape of "IVF<lists>,PQ<m>x<bits>" with ",RFlat" for exact re-ranking (any
  /// spelling `normalized` accepts); nil for any other index.
  public static func ivfPQShape(_ factory: String) -> (
    lists: Int, subQuantizers: Int, bitsPerCode: Int, reranking: Bool
  )? {
    let parts = normalized(factory).split(separator: ",", omittingEmptySubsequences: false)
    guard parts.count == 2 || (parts.count == 3 && parts[2] == "RFlat"), parts[0].hasPrefix("IVF"),
      parts[1].hasPrefix("PQ"), let lists = Int(parts[0].dropFirst(3))
    else { return nil }
    let shape = parts[1].dropFirst(2).split(separator: "x")
    guard shape.count == 2, let m = Int(shape[0]), let bits = Int(shape[1]) else { return nil }
    return (lists, m, bits, parts.count == 3)
  }
}
