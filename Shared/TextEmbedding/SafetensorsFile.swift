import Foundation

/// A safetensors weights file whose header has been checked against the file's actual bytes.
public struct SafetensorsFile: Sendable {
    /// Where one tensor lies in the file and what it holds.
    public struct Tensor: Sendable, Equatable {
        public let dtype: String
        public let shape: [Int]
        /// Offsets into the data section (after the header), as the header states them.
        public let byteRange: Range<Int>
    }

    public let url: URL
    public let tensors: [String: Tensor]
    private let bytes: Data
    private let dataStart: Int

    // Element sizes of the dtypes the format defines; any other name means a damaged or
    // newer file, which is refused rather than guessed at.
    private static let elementSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
        "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
        "U32": 4, "I32": 4, "F32": 4,
        "U64": 8, "I64": 8, "F64": 8,
    ]
    // The format's own limit; it also stops a garbage length from asking for gigabytes.
    private static let maxHeaderSize = 100_000_000

    public init(contentsOf url: URL) throws {
        let bytes = try ModelFile.read(url, mapped: true)
        func fail(_ problem: String) -> EmbeddingModelError { EmbeddingModelError(file: url.path, problem: problem) }
        guard bytes.count >= 8 else {
            throw fail("is truncated: \(bytes.count) bytes, too short for a safetensors header")
        }
        let headerSize = bytes.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerSize <= UInt64(Self.maxHeaderSize) else {
            throw fail("is not a safetensors file (header length \(headerSize))")
        }
        guard 8 + Int(headerSize) <= bytes.count else {
            throw fail("is truncated: its header needs \(8 + headerSize) bytes, the file has \(bytes.count)")
        }
        let dataStart = 8 + Int(headerSize)
        let dataSize = bytes.count - dataStart
        let header = bytes.subdata(in: bytes.startIndex + 8 ..< bytes.startIndex + dataStart)
        guard let object = try? JSONSerialization.jsonObject(with: header), let entries = object as? [String: Any] else {
            throw fail("is not a safetensors file (its header is not a JSON object)")
        }

        var tensors: [String: Tensor] = [:]
        for (name, value) in entries where name != "__metadata__" {
            guard let entry = value as? [String: Any],
                  let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int],
                  let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw fail("tensor \(name) has a malformed header entry") }
            guard let elementSize = Self.elementSizes[dtype] else {
                throw fail("tensor \(name) has unknown dtype \(dtype)")
            }
            var byteCount = elementSize
            for dimension in shape {
                let (product, overflow) = byteCount.multipliedReportingOverflow(by: dimension)
                guard dimension >= 0, !overflow else { throw fail("tensor \(name) has an impossible shape \(shape)") }
                byteCount = product
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin, end - begin == byteCount else {
                throw fail("tensor \(name) of \(dtype) \(shape) needs \(byteCount) bytes but its offsets \(offsets) span \(end - begin)")
            }
            guard end <= dataSize else {
                throw fail("is truncated: tensor \(name) ends at data byte \(end), the file holds \(dataSize) data bytes")
            }
            tensors[name] = Tensor(dtype: dtype, shape: shape, byteRange: begin ..< end)
        }
        // The format requires the tensors to tile the data section exactly; a gap or an overlap
        // means the header does not describe these bytes.
        var covered = 0
        for tensor in tensors.values.sorted(by: { $0.byteRange.lowerBound < $1.byteRange.lowerBound }) {
            guard tensor.byteRange.lowerBound == covered else {
                throw fail("is damaged: its tensors leave a gap or overlap at data byte \(covered)")
            }
            covered = tensor.byteRange.upperBound
        }
        guard covered == dataSize else {
            throw fail("is damaged: \(dataSize - covered) data bytes after the last tensor")
        }
        self.url = url
        self.tensors = tensors
        self.bytes = bytes
        self.dataStart = dataStart
    }

    /// The F32 tensor `name`, checked to have exactly `shape`.
    public func floatTensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard let tensor = tensors[name] else {
            throw EmbeddingModelError(file: url.path, problem: "has no tensor \(name)")
        }
        guard tensor.dtype == "F32" else {
            throw EmbeddingModelError(file: url.path, problem: "tensor \(name) is \(tensor.dtype), only F32 is supported")
        }
        guard tensor.shape == shape else {
            throw EmbeddingModelError(
                file: url.path, problem: "tensor \(name) has shape \(tensor.shape) but config.json implies \(shape)")
        }
        return tensor
    }

    /// Copies the elements of an F32 tensor of this file into `destination`, which must hold exactly them.
    func copyFloats(of tensor: Tensor, into destination: UnsafeMutableBufferPointer<Float>) {
        let count = tensor.byteRange.count / 4
        precondition(tensor.dtype == "F32" && destination.count == count, "a tensor from floatTensor and a buffer of its size")
        bytes.withUnsafeBytes { raw in
            let source = UnsafeRawBufferPointer(rebasing: raw[dataStart + tensor.byteRange.lowerBound ..< dataStart + tensor.byteRange.upperBound])
            #if _endian(little)
            // A byte copy: the header's length need not leave the data 4-byte aligned.
            UnsafeMutableRawBufferPointer(destination).copyMemory(from: source)
            #else
            for index in 0 ..< count {
                destination[index] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self)))
            }
            #endif
        }
    }

    /// An F32 tensor of exactly `shape`, as a flat row-major array.
    public func floats(_ name: String, shape: [Int]) throws -> [Float] {
        let tensor = try floatTensor(name, shape: shape)
        let count = tensor.byteRange.count / 4
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            copyFloats(of: tensor, into: buffer)
            initialized = count
        }
    }
}
