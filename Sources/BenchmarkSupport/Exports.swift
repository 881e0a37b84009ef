// The benchmarks' Markdown (tables, charts) is the reports' writer.
@_exported import Markdown
