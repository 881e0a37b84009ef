import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The temporary files and staging directories of writes in progress, so that they are removed
/// on every way out of the process: a thrown error (the writer removes its own), and SIGINT,
/// SIGTERM or SIGHUP once `removeOnTerminationSignals()` was called (a batch engine preempting a
/// task sends SIGTERM). Only SIGKILL leaves them behind; the next write of the same output
/// removes those of processes that no longer run (`AtomicFile`, the staged directories of
/// RetrievalStage).
public enum TemporaryPaths {
  private final class Registry: @unchecked Sendable {
    let lock = NSLock()
    var paths = [Int: String]()
    var next = 0
    var installed = false
  }
  private static let registry = Registry()

  /// Records `path` (a file or a directory) as temporary until `unregister` is called with the
  /// returned token.
  public static func register(_ path: String) -> Int {
    registry.lock.lock()
    defer { registry.lock.unlock() }
    registry.next += 1
    registry.paths[registry.next] = path
    return registry.next
  }

  /// Forgets a path registered by `register` (it was renamed into place or removed).
  public static func unregister(_ token: Int) {
    registry.lock.lock()
    defer { registry.lock.unlock() }
    registry.paths[token] = nil
  }

  /// The paths registered now.
  public static var registered: [String] {
    registry.lock.lock()
    defer { registry.lock.unlock() }
    return Array(registry.paths.values)
  }

  /// Removes every registered path (files, and directories with what they hold).
  public static func removeAll() {
    for path in registered { try? FileManager.default.removeItem(atPath: path) }
  }

  /// Makes SIGINT, SIGTERM and SIGHUP remove the registered paths before they end the process
  /// as they would have (killed by that signal). Call once, first thing in `main`, before any
  /// thread starts: the signals are blocked in every thread and taken by one waiting thread, so
  /// the removal runs outside a signal handler.
  public static func removeOnTerminationSignals() {
    registry.lock.lock()
    defer { registry.lock.unlock() }
    guard !registry.installed else { return }
    registry.installed = true
    let signals = [SIGINT, SIGTERM, SIGHUP]
    var blocked = sigset_t()
    sigemptyset(&blocked)
    for signal in signals { sigaddset(&blocked, signal) }
    pthread_sigmask(SIG_BLOCK, &blocked, nil)
    let set = blocked
    let waiter = Thread {
      var waited = set
      var received: Int32 = 0
      guard sigwait(&waited, &received) == 0 else { return }
      removeAll()
      // End the process as the signal would have: default action, delivered to this thread.
      signal(received, SIG_DFL)
      var one = sigset_t()
      sigemptyset(&one)
      sigaddset(&one, received)
      pthread_sigmask(SIG_UNBLOCK, &one, nil)
      raise(received)
      _exit(128 + received)
    }
    waiter.name = "pinretrieval-signals"
    waiter.start()
  }
}
