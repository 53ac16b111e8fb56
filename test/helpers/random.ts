/** Seeded randomness for simulations: the simulator's own (src/simulate/random.ts), one implementation. */
export { binomial, poisson, rng } from '../../src/simulate/random.js'
