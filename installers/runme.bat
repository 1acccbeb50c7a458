@echo off
rem folder-sync quick start (Windows): install, build, write demo data, run one mirror pass with a log,
rem show the log, and print how to schedule it. Works from any folder, never asks anything, safe to re-run.
rem Scheduling happens only with --schedule. Linux, macOS, WSL: installers/runme.sh.
rem Usage: installers\runme.bat [--schedule] [--no-install]
setlocal
chcp 65001 >nul

set "SCHEDULE=0"
set "INSTALL=1"
:args
if "%~1"=="" goto args_done
if /i "%~1"=="--schedule" (
  set "SCHEDULE=1"
) else if /i "%~1"=="--no-install" (
  set "INSTALL=0"
) else (
  echo runme.bat: unknown option %1; usage: installers\runme.bat [--schedule] [--no-install] 1>&2
  exit /b 2
)
shift
goto args
:args_done

rem The repository root, from this script's own path: the caller's working folder does not matter.
cd /d "%~dp0.."
if errorlevel 1 exit /b 1
set "REPO=%CD%"
set "DEMO=%REPO%\demo"
if defined FOLDER_SYNC_DEMO_DIR set "DEMO=%FOLDER_SYNC_DEMO_DIR%"
set "CLI=%REPO%\dist\cli.js"
set "FS_LOG=%DEMO%\folder-sync.log"
set "JOB=folder-sync-demo"

where node >nul 2>nul
if errorlevel 1 (
  echo runme.bat: Node.js 20 or newer is needed, see https://nodejs.org 1>&2
  exit /b 1
)
for /f "usebackq" %%v in (`node -p "parseInt(process.versions.node)"`) do set "NODE_MAJOR=%%v"
if %NODE_MAJOR% LSS 20 (
  echo runme.bat: Node.js 20 or newer is needed, this is %NODE_MAJOR% 1>&2
  exit /b 1
)

if "%INSTALL%"=="0" goto installed
echo.
echo === Installing dependencies: npm ci
call npm ci --no-audit --no-fund
if errorlevel 1 exit /b 1
echo.
echo === Building: npm run build
call npm run build
if errorlevel 1 exit /b 1
:installed

echo.
echo === Writing demo data
node "%CLI%" demo "%DEMO%\source"
if errorlevel 1 exit /b %errorlevel%

echo.
echo === One mirror pass; every operation goes to the log
node "%CLI%" sync-once "%DEMO%\source" "%DEMO%\replica" --log "%FS_LOG%" --quiet
if errorlevel 1 exit /b %errorlevel%

echo.
echo === The end of the log: %FS_LOG%
powershell -NoProfile -NonInteractive -Command "Get-Content -LiteralPath $env:FS_LOG -Encoding UTF8 -Tail 30"

echo.
echo === A second pass: nothing changed, so it logs no operations
node "%CLI%" sync-once "%DEMO%\source" "%DEMO%\replica" --log "%FS_LOG%"
if errorlevel 1 exit /b %errorlevel%

echo.
echo === Run it on a schedule
echo Every 5 minutes through Task Scheduler; paths are stored absolute:
echo   node "%CLI%" schedule "%DEMO%\source" "%DEMO%\replica" 5 minutes "%FS_LOG%" --name %JOB%
echo See the jobs, their last pass and the next run:
echo   node "%CLI%" list
echo Remove the job:
echo   node "%CLI%" unschedule %JOB%
echo Or run the passes in the foreground instead; Ctrl-C stops:
echo   node "%CLI%" run "%DEMO%\source" "%DEMO%\replica" 5 minutes "%FS_LOG%"
echo After "npm link" in %REPO%, "node %CLI%" is simply "folder-sync".

if "%SCHEDULE%"=="1" goto schedule
echo.
echo Nothing was scheduled. Run installers\runme.bat --schedule to schedule the demo job.
exit /b 0

:schedule
echo.
echo === Scheduling the demo job
node "%CLI%" schedule "%DEMO%\source" "%DEMO%\replica" 5 minutes "%FS_LOG%" --name %JOB%
exit /b %errorlevel%
