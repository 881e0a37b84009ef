import Foundation

/// The data sets `eval-retrieval` knows by name, and how to fetch them.
public enum KnownDatasets {
  /// Directory of fetched data (git-ignored): `Datasets/cache` under the package root, or
  /// `PINRETRIEVAL_DATA` if set.
  public static func cacheDirectory(packageRoot: String) -> String {
    ProcessInfo.processInfo.environment["PINRETRIEVAL_DATA"] ?? packageRoot + "/Datasets/cache"
  }

  /// Script (relative to the package root) that fetches MovieLens 100K into the cache directory;
  /// shown as the hint when the files are missing.
  public static let movieLensFetchCommand = "Datasets/fetch-ml-100k.sh"

  /// MovieLens 100K from RecBole 1.2.1's package: log, genres as topics.
  public static func movieLens100K(packageRoot: String) throws(DataError) -> (LoadedLog, PinTopics) {
    let directory = cacheDirectory(packageRoot: packageRoot) + "/ml-100k"
    let loaded = try DelimitedLogLoader.load(
      directory + "/ml-100k.inter", format: .movieLensRecBole, hint: movieLensFetchCommand)
    let topics = try PinTopics.loadRecBoleItems(
      directory + "/ml-100k.item", pinIDs: loaded.log.pinIDs, hint: movieLensFetchCommand)
    return (loaded, topics)
  }
}
