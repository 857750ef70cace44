/** The eval layer: measures over the explain layer's results (plain data in, plain data out). */
export * from './pointing';
