// The page's entry: each module registers what it follows with the core (app.js), then the core
// starts. The order of the imports is the order their hooks run in.
import { start } from "./app.js";
import "./elevators.js";
import "./desk.js";
import "./planner.js";
import "./supervision.js";

start();
