// The compute engine: build a graph of symbolic tensors, differentiate it, emit ONNX, run it on onnxruntime.
export * from './dtype.js';
export * from './host.js';
export { Graph, Tensor, GraphBuildError, attr, formatShape, type Dim, type Shape, type Node, type Attrs, type AttrValue } from './graph.js';
export * as ops from './ops.js';
export { emitOnnx, liveSubgraph, OPSET, type EmitOptions, type EmittedModel } from './onnx.js';
export { Session, compile, clearSessionCache, defaultThreads, toOrt, fromOrt, type CompileOptions, type RunOptions, type Feed } from './session.js';
export { grad } from './autodiff.js';
