import PinData
import VectorIndex
import Vectors

/// Interest topics when a data set has none: FAISS k-means (spherical, seeded) over the pins'
/// content embeddings, computed once per data set (PAPERS.md: Interest Entropy needs a topic
/// per pin; Pinterest has about 350).
func kMeansTopics(_ embeddings: VectorMatrix, clusters: Int = 350, seed: Int32 = 1234) throws -> PinTopics {
  var kmeans = KMeans(clusters: min(clusters, max(1, embeddings.count / 20)))
  kmeans.spherical = true
  kmeans.seed = seed
  let result = try kmeans.fit(embeddings)
  return PinTopics(
    topicOfPin: result.assignments.map { Int32($0) }, topicNames: (0..<kmeans.clusters).map { "kmeans\($0)" })
}
