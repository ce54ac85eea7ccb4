import EngineApp
import ServiceKit

await ServiceCommand<EngineService>.runMain()
