/**
 * Long work: cancellation (AbortSignal and the kernel interrupt), chunking with guaranteed
 * disposal, progress events, and memory bounds. The lowest layer: it imports only tfjs and errors,
 * so model, explain and eval code can all build on it.
 */
export { runChunks, runChunksAsync, tensorsIn, type ChunkContext, type ChunkSpec, type ChunkWork, type LongRunOptions } from './chunks';
export { listenForInterrupt, resetStaleKernelDepth, setInterruptHandling, simulateInterrupt, withRestore, type InterruptTarget } from './interrupt';
export {
  WASM_HEAP_LIMIT_BYTES, activationBytes, bytesPerImage, guardWasmHeap, memoryBudget, planChunks,
  type ActivationBytes, type ChunkPlan, type ChunkPlanRequest, type MemoryBudget,
} from './memory';
export { emitProgress, progressSinkFor, rateAndEta, setDefaultProgressSink, type ProgressSink, type RunProgress, type RunState } from './progress';
