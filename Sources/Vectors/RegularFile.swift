import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reading the files people hand the program (configs, logs, histories, bundles, reports): only
/// regular files are read. A path naming a FIFO, a device (`/dev/zero`, `/dev/stdin`), a socket
/// or a directory, directly or through a symlink, is an error at once, not a read that never
/// ends or never stops allocating; and the file is opened without blocking (opening a FIFO with
/// no writer would wait forever) and checked on the opened descriptor, so that it cannot be
/// swapped for something else between the check and the read. At most the size the check saw
/// is read.
public enum RegularFile {
  /// What kind of file `mode` describes ("a FIFO", "a character device", ...).
  static func kind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFREG: "a regular file"
    case S_IFDIR: "a directory"
    case S_IFIFO: "a FIFO (named pipe)"
    case S_IFCHR: "a character device"
    case S_IFBLK: "a block device"
    case S_IFSOCK: "a socket"
    default: "not a regular file"
    }
  }

  /// Opens `path` for reading without blocking and checks that it is a regular file (after
  /// symlinks) of at most `maximumBytes`; returns the descriptor (blocking again) and the size.
  static func openRegular(_ path: String, maximumBytes: Int) throws(VectorsError) -> (
    descriptor: Int32, size: Int
  ) {
    let fd = posixOpen(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else {
      let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
      throw .cannotRead(path: path, reason: reason)
    }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      let reason = String(cString: strerror(errno))
      close(fd)
      throw .cannotRead(path: path, reason: reason)
    }
    guard info.st_mode & S_IFMT == S_IFREG else {
      close(fd)
      throw .cannotRead(path: path, reason: "is \(kind(info.st_mode)), not a regular file")
    }
    let size = Int(info.st_size)
    guard size <= maximumBytes else {
      close(fd)
      throw .cannotRead(path: path, reason: "is \(size) bytes; at most \(maximumBytes) are read")
    }
    // Regular files never block; clear the flag so reads behave as usual.
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    return (fd, size)
  }

  /// Checks, without reading it, that `path` is a regular file (after symlinks), for a path
  /// another library opens itself.
  /// - Throws: `VectorsError.cannotRead` naming the path and what it is.
  public static func check(_ path: String) throws(VectorsError) {
    let (fd, _) = try openRegular(path, maximumBytes: .max)
    close(fd)
  }

  /// The whole file at `path`, a regular file of at most `maximumBytes` (memory-mapped with
  /// `mapped`, read into memory otherwise).
  /// - Throws: `VectorsError.cannotRead` naming the path and the reason: missing, not a regular
  ///   file (and what it is), too large, or unreadable.
  public static func read(_ path: String, maximumBytes: Int = .max, mapped: Bool = false) throws(VectorsError)
    -> Data
  {
    let (fd, size) = try openRegular(path, maximumBytes: maximumBytes)
    defer { close(fd) }
    guard size > 0 else { return Data() }
    if mapped, let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED {
      return Data(
        bytesNoCopy: base, count: size, deallocator: .custom { pointer, count in munmap(pointer, count) })
    }
    var data = Data(count: size)
    var done = 0
    let failure: String? = data.withUnsafeMutableBytes { buffer in
      while done < size {
        let n = posixRead(fd, buffer.baseAddress! + done, size - done)
        if n < 0 {
          if errno == EINTR { continue }
          return String(cString: strerror(errno))
        }
        if n == 0 { break }  // the file shrank while it was read
        done += n
      }
      return nil
    }
    if let failure { throw .cannotRead(path: path, reason: failure) }
    return done == size ? data : data.prefix(done)
  }

  /// Opens `path`, a regular file, for streaming reads (the caller closes the handle).
  /// - Throws: `VectorsError.cannotRead` as `read(_:maximumBytes:mapped:)`.
  public static func handle(_ path: String) throws(VectorsError) -> FileHandle {
    let (fd, _) = try openRegular(path, maximumBytes: .max)
    return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
  }
}

private func posixOpen(_ path: String, _ flags: Int32) -> Int32 { open(path, flags) }
private func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
  read(fd, buffer, count)
}
